"""The outbox page shows failed mail with the server's reply and queues it again on request."""
from sqlalchemy import select, update

from portal.extensions import db
from portal.mail.models import OutgoingEmail
from tests.support.admin import csrf_of
from tests.support.web import page_text


def test_failed_mail_is_listed_with_its_reply_and_can_be_retried(app, admin_client, make_event, make_registration):
    slug = make_event()
    make_registration(slug)
    with app.app_context():
        db.session.execute(update(OutgoingEmail).values(status="failed", attempts=10,
                                                        last_error="550 5.1.1 mailbox unavailable"))
        db.session.commit()
    page = admin_client.get("/admin/outbox")
    assert "550 5.1.1 mailbox unavailable" in page_text(page)
    token = csrf_of(admin_client, "/admin/outbox")
    response = admin_client.post("/admin/outbox/retry", data={"csrf_token": token}, follow_redirects=True)
    assert "1 failed email(s) queued again." in page_text(response)
    with app.app_context():
        assert db.session.scalars(select(OutgoingEmail.status)).all() == ["queued"]
        assert db.session.scalar(select(OutgoingEmail.attempts)) == 0


def test_staff_cannot_see_the_outbox(app, staff_client):
    assert staff_client.get("/admin/outbox").status_code == 403
