"""The dashboard warns when mail is not leaving a lane, a lane has no live worker, or beat is late: real processes."""
from datetime import timedelta

from sqlalchemy import update

from portal.database import utcnow
from portal.extensions import db
from portal.mail import Cause
from portal.mail.models import EmailStatus, OutgoingEmail
from portal.mail.outbox import PreparedEmail, queue_many
from portal.mail.render import RenderedEmail
from tests.support.admin import logged_in_client
from tests.support.mail import GENEROUS, queue_test_email, wait_for_status
from tests.support.wait import wait_until
from tests.support.web import page_text
from tests.support.worker import start_beat, start_worker

NOT_LEAVING = "Transactional mail is not leaving"
STUCK = "Mail or scheduled work is stuck."


def dashboard(client) -> str:
    response = client.get("/admin/")
    assert response.status_code == 200
    return page_text(response)


def queued_minutes_ago(app, minutes: float, bulk: bool = False) -> int:
    """One message waiting in its lane, queued `minutes` ago (and never published: only a sweeper finds it)."""
    with app.app_context():
        if bulk:
            (email_id,) = queue_many([PreparedEmail(
                name="digest", to="reader@example.org", headers={}, cause=Cause("subscriber", 1),
                rendered=RenderedEmail(subject="Issue", text="Hi\n", html="<p>Hi</p>"),
            )])
        else:
            email_id = queue_test_email().id
        db.session.execute(update(OutgoingEmail).where(OutgoingEmail.id == email_id)
                           .values(created_at=utcnow() - timedelta(minutes=minutes)))
        db.session.commit()
        db.session.info.clear()  # nothing is published: the sweeper must find it
    return email_id


def test_the_warning_shows_while_the_oldest_queued_mail_is_older_than_the_setting_and_goes_once_it_leaves(
    smtp_env, smtp_server, make_app, tmp_path
):
    app = make_app()
    client = logged_in_client(app)
    email_id = queued_minutes_ago(app, 16)
    text = dashboard(client)
    assert f"{NOT_LEAVING}: the oldest message has waited 16 minutes (the limit is 15 minutes)." in text

    worker = start_worker(smtp_env, tmp_path)
    beat = start_beat(smtp_env, tmp_path)
    try:
        wait_for_status(app, email_id, EmailStatus.SENT)
        text = wait_until(lambda: (lambda t: t if STUCK not in t else None)(dashboard(client)), timeout=GENEROUS,
                          message="a dashboard without warnings")
        assert NOT_LEAVING not in text
    finally:
        beat.stop()
        worker.stop()


def test_a_younger_queued_message_raises_no_warning(make_app):
    app = make_app()
    client = logged_in_client(app)
    queued_minutes_ago(app, 14)
    assert NOT_LEAVING not in dashboard(client)


def test_the_bulk_lane_has_its_own_longer_limit(make_app):
    app = make_app(OUTBOX_BULK_LATE_MINUTES=240)
    client = logged_in_client(app)
    queued_minutes_ago(app, 60, bulk=True)
    assert "mail is not leaving" not in dashboard(client)
    queued_minutes_ago(app, 5 * 60, bulk=True)
    text = dashboard(client)
    assert "Bulk mail is not leaving: the oldest message has waited 5 hours (the limit is 240 minutes)." in text
    assert NOT_LEAVING not in text


def test_a_lane_without_a_live_worker_and_a_late_beat_are_named(portal_env, make_app, tmp_path):
    portal_env.update(HEARTBEAT_SECONDS="0.5", HEARTBEAT_LATE_SECONDS="2", HEARTBEAT_MISSING_SECONDS="30")
    app = make_app()
    client = logged_in_client(app)
    text = dashboard(client)
    assert ("The transactional lane has no live worker (missing: no heartbeat recorded), so its mail and tasks wait."
            in text)
    assert "The bulk lane has no live worker (missing: no heartbeat recorded)" in text
    assert ("Beat is missing (no heartbeat recorded): the outbox sweep, digests and other scheduled jobs are not "
            "being started.") in text

    worker = start_worker(portal_env, tmp_path, queues="mail,portal", name="transactional@%h")
    try:
        beat = start_beat(portal_env, tmp_path)
        try:
            text = wait_until(lambda: (lambda t: t if "transactional lane" not in t and "Beat" not in t else None)(
                dashboard(client)), timeout=GENEROUS, message="transactional worker and beat alive")
            assert "The bulk lane has no live worker (missing: no heartbeat recorded)" in text
        finally:
            beat.stop()
        text = wait_until(lambda: (lambda t: t if "Beat is late (last heartbeat " in t else None)(dashboard(client)),
                          timeout=GENEROUS, message="beat late")
        assert "The transactional lane" not in text
    finally:
        worker.stop()
