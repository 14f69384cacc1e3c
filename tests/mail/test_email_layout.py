"""Every registration email fits a 390 px phone screen and carries the society's masthead."""
import pytest

from portal.extensions import db
from portal.mail.models import OutgoingEmail
from portal.registration import service, visitor_emails
from tests.support.registration import registrations

LONG_ADDRESS = "grace.brewster.murray.hopper.rear-admiral@computing-history.department.example.org"


def _every_registration_email(app, make_event, make_registration) -> list[OutgoingEmail]:
    slug = make_event(day_capacity=1)
    make_registration(slug, email=LONG_ADDRESS, organization="Naval Research Laboratory Computing Division " * 2)
    make_registration(slug, email="waiting." + LONG_ADDRESS)
    holder, _ = registrations(app, slug)
    with app.app_context():
        visitor_emails.handle_lost_link_request(LONG_ADDRESS, {})
        service.cancel_registration(holder.id)
        db.session.commit()
        rows = db.session.query(OutgoingEmail).order_by(OutgoingEmail.id).all()
        db.session.expunge_all()
    return rows


@pytest.mark.browser
def test_no_registration_email_scrolls_sideways_at_390_px(app, make_event, make_registration, chromium):
    rows = _every_registration_email(app, make_event, make_registration)
    assert {row.name for row in rows} >= {
        "registration_confirmed", "registration_waitlisted", "registration_link", "registration_cancelled",
        "registration_promoted",
    }
    context = chromium.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    page.route("**/*", lambda route: route.abort())  # remote images stay blocked, as many clients do
    try:
        for row in rows:
            page.set_content(row.body_html)
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= 390, (row.name, width)
    finally:
        context.close()


def test_every_email_opens_with_the_society_masthead(app, make_event, make_registration):
    for row in _every_registration_email(app, make_event, make_registration):
        assert "Gene &amp; Cell Therapy Society" in row.body_html, row.name
