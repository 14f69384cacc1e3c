"""A recipient the relay refuses at RCPT time (Postfix's own 550 5.1.1) is a hard bounce at once: no DSN to wait for."""
from sqlalchemy import select

from portal.deliverability.models import DeliveryEvent, MailSuppression
from portal.extensions import db
from portal.mail.models import EmailStatus, OutgoingEmail
from portal.mail.tasks import deliver_emails
from portal.mail.validation import address_key
from tests.support.bounces import BOUNCE_ADDRESS, HARD_DOMAIN, BounceRelay
from tests.support.mail import queue_test_email


def test_a_recipient_postfix_refuses_at_rcpt_time_is_suppressed_at_once(portal_env, make_app):
    dead = f"dead@{HARD_DOMAIN}"
    with BounceRelay(refuse_at_rcpt=True) as relay:
        portal_env.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=str(relay.port), MAIL_BOUNCE_ADDRESS=BOUNCE_ADDRESS)
        app = make_app()
        with app.app_context():
            email_id = queue_test_email(to=dead).id
            db.session.commit()
            assert deliver_emails([email_id])["failed"] == 1
            row = db.session.get(OutgoingEmail, email_id)
            event = db.session.scalars(select(DeliveryEvent)).one()
            reason = db.session.scalar(select(MailSuppression.reason).where(MailSuppression.address_key == address_key(dead)))
        assert relay.inbox() == []
    assert row.status == EmailStatus.FAILED.value and "5.1.1" in row.last_error
    assert (event.kind, event.email_id, event.source, event.status_code) == ("hard_bounce", email_id, "smtp", "5.1.1")
    assert reason == "hard_bounce"
