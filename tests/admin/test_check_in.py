"""Check-in at the door: by code or name, per day, a second check-in the same day says so."""
from sqlalchemy import func, select

from portal.admin.models import AuditEvent
from portal.extensions import db
from portal.registration.models import CheckIn
from tests.support.admin import csrf_of
from tests.support.web import page_text


def _check_in(client, slug, code, day_position=1):
    from portal.registration.service import get_event

    with client.application.app_context():
        day_id = str(get_event(slug).day_at(day_position).id)
    token = csrf_of(client, f"/admin/check-in?event={slug}")
    return client.post(f"/admin/check-in?event={slug}", data={"csrf_token": token, "code": code, "day": day_id})


def test_a_code_checks_its_holder_in_once_per_day(app, staff_client, make_event, make_registration):
    slug = make_event()
    ada = make_registration(slug)
    first = _check_in(staff_client, slug, ada.code.lower())
    assert first.status_code == 200
    assert "Checked in: Ada Lovelace" in page_text(first)
    again = _check_in(staff_client, slug, ada.code)
    assert "Already checked in." in page_text(again)
    other_day = _check_in(staff_client, slug, ada.code, day_position=2)
    assert "Checked in: Ada Lovelace" in page_text(other_day)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(CheckIn)) == 2
        assert db.session.scalar(select(func.count()).where(AuditEvent.action == "check_in")) == 2


def test_per_day_headcounts_follow_check_ins(app, staff_client, make_event, make_registration):
    slug = make_event()
    for n in range(3):
        registration = make_registration(slug, email=f"p{n}@example.org")
        if n < 2:
            _check_in(staff_client, slug, registration.code)
    text = page_text(staff_client.get(f"/admin/check-in?event={slug}"))
    assert "Day 1 (" in text and "2 checked in" in text and "0 checked in" in text


def test_unknown_cancelled_waiting_and_wrong_day_codes_are_refused_with_the_reason(
        app, staff_client, make_event, make_registration):
    from portal.registration.service import cancel_registration

    slug = make_event(day_capacity=1)
    day_one_only = make_registration(slug, email="one@example.org", days="1")
    waiting = make_registration(slug, email="wait@example.org", days="1")
    gone = make_registration(slug, email="gone@example.org", days="2")
    with app.app_context():
        cancel_registration(gone.id)
        db.session.commit()
    cases = [("ZZZZZZZZ", 1, "No registration for this event has that code."),
             (gone.code, 2, "registration was cancelled"),
             (waiting.code, 1, "is on the waiting list"),
             (day_one_only.code, 2, "is registered for Day 1")]
    for code, day, reason in cases:
        response = _check_in(staff_client, slug, code, day)
        assert response.status_code == 422
        assert reason in page_text(response), reason
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(CheckIn)) == 0


def test_an_empty_code_is_a_field_error(app, staff_client, make_event):
    slug = make_event()
    response = _check_in(staff_client, slug, "   ")
    assert response.status_code == 400
    assert "Enter the check-in code." in page_text(response)


def test_search_by_name_offers_a_check_in_button(app, staff_client, make_event, make_registration):
    slug = make_event()
    make_registration(slug, first_name="Grace", last_name="Hopper", email="grace@example.org")
    text = page_text(staff_client.get(f"/admin/check-in?event={slug}&q=hopper"))
    assert "Grace Hopper" in text and "Check in Grace" in text


def test_only_the_check_in_page_may_use_the_camera(app, staff_client, make_event):
    slug = make_event()
    assert "camera=(self)" in staff_client.get(f"/admin/check-in?event={slug}").headers["Permissions-Policy"]
    assert "camera=()" in staff_client.get("/admin/").headers["Permissions-Policy"]
