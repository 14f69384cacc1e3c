"""The headers mailbox providers tell mail kinds apart by: Auto-Submitted on transactional mail, Feedback-ID on bulk."""
from datetime import date

from sqlalchemy import select

from portal.extensions import db
from portal.mail.message import parsed_message
from portal.mail.models import Lane, OutgoingEmail
from portal.mail.tasks import deliver_emails
from portal.resources.service import seed_resources
from tests.support.digests import add_subscribers, compose_whole_edition
from tests.support.mail import queue_test_email

MONDAY = date(2026, 11, 23)


def test_transactional_mail_is_auto_submitted(smtp_env, smtp_server, make_app):
    app = make_app()
    with app.app_context():
        email_id = queue_test_email().id
        db.session.commit()
        assert deliver_emails([email_id])["sent"] == 1
    (received,) = smtp_server.wait_for(1)
    assert received.message["Auto-Submitted"] == "auto-generated"
    assert received.message["Feedback-ID"] is None


def test_a_digest_carries_a_feedback_id_and_is_not_auto_submitted(portal_env, make_app):
    portal_env["MAIL_DEFAULT_SENDER"] = "Policy Summit <news@Example.org>"
    app = make_app()
    with app.app_context():
        seed_resources()
        db.session.commit()
    add_subscribers(app, 1, topics=("regulatory",))
    compose_whole_edition(app, day=MONDAY)
    with app.app_context():
        (row,) = db.session.scalars(select(OutgoingEmail).where(OutgoingEmail.name == "digest"))
        assert row.lane == Lane.BULK.value
        message = parsed_message(row)
    assert message["Feedback-ID"] == "digest:bulk:summit-portal:example.org"
    assert message["Auto-Submitted"] is None
