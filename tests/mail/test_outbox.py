"""The outbox: queued in the caller's transaction, delivered once by a real worker over real SMTP."""
from sqlalchemy import select

from portal.extensions import db
from portal.mail import queue_email
from portal.mail.models import EmailStatus, OutgoingEmail
from tests.support.wait import wait_until


def queue_test_email(to="ada@example.org", name="Ada"):
    return queue_email("test_message", to, {"name": name})


def test_queued_email_is_written_in_the_callers_transaction(app):
    with app.app_context():
        queue_test_email()
        db.session.rollback()
        assert db.session.scalar(select(OutgoingEmail)) is None
        row = queue_test_email()
        db.session.commit()
        stored = db.session.get(OutgoingEmail, row.id)
        assert stored.status == EmailStatus.QUEUED.value
        assert stored.subject == "A test message for Ada"
        assert stored.message_id.startswith("<") and stored.message_id.endswith(">")


def test_real_worker_delivers_outbox_email_over_smtp(smtp_env, smtp_server, make_app, celery_worker):
    app = make_app()
    with app.test_request_context():
        row = queue_test_email()
        db.session.commit()
        email_id = row.id
        from portal.mail.outbox import dispatch_committed_emails

        dispatch_committed_emails()
    received = smtp_server.wait_for(1)
    assert received[0].recipients == ["ada@example.org"]
    assert received[0].message["Subject"] == "A test message for Ada"
    assert wait_for_status(app, email_id, EmailStatus.SENT)


def wait_for_status(app, email_id, status):
    def current():
        with app.app_context():
            return db.session.get(OutgoingEmail, email_id).status == status.value

    return wait_until(current, message=f"outbox row {email_id} {status.value}")
