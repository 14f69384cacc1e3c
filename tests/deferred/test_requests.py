"""Requests are decided at least once and acted on once, even when their task was lost."""
from datetime import timedelta

from sqlalchemy import select, update

from portal.database import utcnow
from portal.extensions import db
from portal.deferred import tasks
from portal.deferred.models import DeferredRequest
from portal.newsletter import intake
from portal.newsletter.models import SignupSource
from portal.newsletter.service import Preferences
from tests.support.mail import outbox
from tests.support.wait import wait_until


def _commit_request_without_publishing(app, email="ada@example.org") -> int:
    with app.app_context():
        intake.request_signup(email, "", Preferences((), True, "monthly"), SignupSource.FOOTER)
        db.session.commit()
        db.session.info.clear()  # the broker "never got it"
        return db.session.scalar(select(DeferredRequest.id))


def test_a_request_handled_twice_is_acted_on_once(seeded):
    request_id = _commit_request_without_publishing(seeded)
    with seeded.app_context():
        assert tasks.handle_deferred_request(request_id) == "confirmation_sent"
        assert tasks.handle_deferred_request(request_id) == "gone"
    assert len(outbox(seeded, "newsletter_confirm")) == 1


def test_the_sweeper_hands_a_lost_request_to_a_worker(seeded, make_app, celery_worker):
    app = make_app()
    request_id = _commit_request_without_publishing(app)
    with app.app_context():
        assert tasks.sweep_deferred_requests() == 0  # too recent: its own task may still come
        db.session.execute(update(DeferredRequest).values(created_at=utcnow() - timedelta(minutes=5)))
        db.session.commit()
        assert tasks.sweep_deferred_requests() == 1
    wait_until(lambda: outbox(app, "newsletter_confirm"), timeout=60, interval=0.2, message="confirmation queued")
    with app.app_context():
        assert db.session.get(DeferredRequest, request_id) is None
