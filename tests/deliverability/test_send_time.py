"""At send time: bulk mail skips suppressed addresses, and a recipient our relay refuses is a bounce."""
from datetime import date, timedelta

from sqlalchemy import select

from portal.deliverability import service
from portal.deliverability.models import DeliveryEvent
from portal.extensions import db
from portal.mail import Cause
from portal.mail.models import EmailStatus, OutgoingEmail
from portal.mail.outbox import PreparedEmail, queue_many
from portal.mail.render import render_email
from portal.mail.tasks import deliver_bulk_emails, deliver_emails
from portal.resources.service import seed_resources
from tests.deliverability.conftest import sent_mail, suppression_of
from tests.support.digests import add_subscribers, compose_whole_edition, edition_counts
from tests.support.mail import queue_test_email, row_state
from tests.support.reports import postfix_dsn

MONDAY = date(2026, 11, 23)


def _hard_bounce(app, email: str) -> None:
    mail = sent_mail(app, email)
    with app.app_context():
        service.process_report(postfix_dsn(mail.verp, email))
        db.session.commit()


def _queued(app, send, **fields) -> int:
    with app.app_context():
        email_id = send(**fields)
        db.session.commit()
        return email_id


def _bulk_message(to: str) -> int:
    rendered = render_email("test_message", {"name": "Ada"})
    return queue_many([PreparedEmail("test_message", to, rendered, {}, Cause("test", 1))])[0]


def _events(app) -> list[tuple[str, str, str | None]]:
    with app.app_context():
        return list(db.session.execute(
            select(DeliveryEvent.kind, DeliveryEvent.source, DeliveryEvent.status_code).order_by(DeliveryEvent.id)
        ).tuples())


def test_the_next_digest_to_a_hard_bounced_address_is_withheld(bounce_app):
    with bounce_app.app_context():
        seed_resources()
        db.session.commit()
    add_subscribers(bounce_app, 1, topics=("regulatory",))
    first = compose_whole_edition(bounce_app, day=MONDAY)
    with bounce_app.app_context():
        (digest_id,) = db.session.scalars(select(OutgoingEmail.id).where(OutgoingEmail.name == "digest"))
    # An earlier message to the reader bounces while the digest waits in the outbox.
    _hard_bounce(bounce_app, "person0@example.org")
    with bounce_app.app_context():
        assert deliver_bulk_emails([digest_id])["withheld"] == 1
    state = row_state(bounce_app, digest_id)
    assert (state.status, state.last_error) == (EmailStatus.WITHHELD.value, "the subscriber's address bounced")
    assert edition_counts(bounce_app, first)["withheld"] == 1
    second = compose_whole_edition(bounce_app, day=MONDAY + timedelta(days=7))
    assert edition_counts(bounce_app, second)["planned"] == 0


def test_bulk_mail_to_a_suppressed_address_is_withheld(bounce_app):
    _hard_bounce(bounce_app, "gone@example.org")
    suppressed = _queued(bounce_app, _bulk_message, to="Gone@example.org")
    other = _queued(bounce_app, _bulk_message, to="ada@example.org")
    with bounce_app.app_context():
        outcome = deliver_bulk_emails([suppressed, other])
    assert (outcome["withheld"], outcome["sent"]) == (1, 1)
    assert row_state(bounce_app, suppressed).last_error == "suppressed: hard bounce"


def test_transactional_mail_to_a_suppressed_address_is_still_attempted(bounce_env, smtp_env, smtp_server, make_app):
    app = make_app()
    _hard_bounce(app, "gone@example.org")
    email_id = _queued(app, lambda: queue_test_email(to="gone@example.org").id)
    with app.app_context():
        assert deliver_emails([email_id])["sent"] == 1
    assert [mail.recipients for mail in smtp_server.messages] == [["gone@example.org"]]


def test_a_recipient_refused_at_rcpt_is_recorded_as_a_hard_bounce(bounce_env, smtp_env, smtp_server, make_app):
    smtp_server.script_envelope(("RCPT", "550 5.1.1 <gone@example.org>: No such user here"))
    app = make_app()
    email_id = _queued(app, lambda: queue_test_email(to="gone@example.org").id)
    with app.app_context():
        assert deliver_emails([email_id])["failed"] == 1
    assert row_state(app, email_id).status == EmailStatus.FAILED.value
    assert _events(app) == [("hard_bounce", "smtp", "5.1.1")]
    assert suppression_of(app, "gone@example.org") == "hard_bounce"


def test_a_refusal_at_data_does_not_suppress_the_address(bounce_env, smtp_env, smtp_server, make_app):
    smtp_server.script("554 5.7.1 Message content rejected")
    app = make_app()
    email_id = _queued(app, lambda: queue_test_email(to="ada@example.org").id)
    with app.app_context():
        assert deliver_emails([email_id])["failed"] == 1
    assert row_state(app, email_id).last_error == "554 5.7.1 Message content rejected"
    assert _events(app) == []
    assert suppression_of(app, "ada@example.org") is None


def test_a_refusal_at_mail_from_does_not_suppress_the_address(bounce_env, smtp_env, smtp_server, make_app):
    smtp_server.script_envelope(("MAIL", "553 5.1.8 Sender address rejected"))
    app = make_app()
    email_id = _queued(app, lambda: queue_test_email(to="ada@example.org").id)
    with app.app_context():
        assert deliver_emails([email_id])["failed"] == 1
    assert _events(app) == []
    assert suppression_of(app, "ada@example.org") is None
