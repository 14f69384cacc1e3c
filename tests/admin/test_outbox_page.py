"""The outbox page shows each lane, and failed mail with the server's reply, which it queues again on request."""
from sqlalchemy import select, update

from datetime import timedelta

from portal.admin.views import format_moment
from portal.database import utcnow
from portal.extensions import db
from portal.mail import Cause
from portal.mail.models import OutgoingEmail
from portal.mail.outbox import PreparedEmail, queue_many
from portal.mail.render import RenderedEmail
from tests.support.admin import add_account, csrf_of, log_in
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


def test_each_lane_shows_what_waits_its_rate_and_when_a_mailing_should_be_out(make_app):
    app = make_app(MAIL_BULK_RATE="10/minute")
    add_account(app)
    client = app.test_client()
    log_in(client)
    with app.app_context():
        queue_many([PreparedEmail(name="digest", to=f"reader{n}@example.org",
                                  rendered=RenderedEmail(subject="Issue", text="Hi\n", html="<p>Hi</p>"),
                                  headers={}, cause=Cause("subscriber", n)) for n in range(30)])
        db.session.commit()
    before = utcnow()
    text = page_text(client.get("/admin/outbox"))
    after = utcnow()
    assert "Transactional 0 0 as fast as the server takes it —" in text
    # 30 waiting at 10 a minute: out in three minutes.
    finish = {format_moment(moment + timedelta(minutes=3)) for moment in (before, after)}
    assert any(f"Bulk 30 0 at most 10/minute {moment}" in text for moment in finish), text
