"""The attendee list, detail page and organiser actions."""
import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.mail.models import OutgoingEmail
from portal.registration.models import Registration
from tests.support.admin import csrf_of
from tests.support.web import page_text


def test_search_filters_and_paging(app, staff_client, make_event, make_registration):
    slug = make_event()
    for n in range(55):
        make_registration(slug, email=f"p{n:02}@example.org", last_name=f"Person{n:02}",
                          organization="Acme Bio" if n % 5 == 0 else "Other Org")
    first = page_text(staff_client.get(f"/admin/attendees?event={slug}"))
    assert "55 registrations, page 1 of 2" in first
    assert "11 registrations" in page_text(staff_client.get(f"/admin/attendees?event={slug}&q=acme"))
    assert "1 registration" in page_text(staff_client.get(f"/admin/attendees?event={slug}&q=p07@example.org"))
    sorted_page = page_text(staff_client.get(f"/admin/attendees?event={slug}&sort=last_name&page=2"))
    assert "Person50" in sorted_page and "Person01" not in sorted_page


def test_nonsense_in_the_query_string_is_ignored(app, staff_client, make_event, make_registration):
    slug = make_event()
    make_registration(slug)
    for query in ("status=evil", "day=abc", "category=999999", "sort=password", "page=-3", "page=x", "q=%25_%5C",
                  "checked_in=maybe"):
        response = staff_client.get(f"/admin/attendees?event={slug}&{query}")
        assert response.status_code == 200, query
    assert staff_client.get("/admin/attendees?event=no-such-event").status_code == 404


def test_an_organiser_cancels_and_the_attendee_is_emailed(app, admin_client, make_event, make_registration):
    slug = make_event()
    ada = make_registration(slug)
    token = csrf_of(admin_client, f"/admin/attendees/{ada.id}")
    response = admin_client.post(f"/admin/attendees/{ada.id}/cancel", data={"csrf_token": token})
    assert response.status_code == 303
    with app.app_context():
        assert db.session.get(Registration, ada.id).is_cancelled
        names = db.session.scalars(select(OutgoingEmail.name).order_by(OutgoingEmail.id)).all()
    assert names[-1] == "registration_cancelled"


def test_resend_sends_the_current_confirmation(app, admin_client, make_event, make_registration):
    slug = make_event()
    ada = make_registration(slug)
    token = csrf_of(admin_client, f"/admin/attendees/{ada.id}")
    admin_client.post(f"/admin/attendees/{ada.id}/resend", data={"csrf_token": token})
    with app.app_context():
        names = db.session.scalars(select(OutgoingEmail.name).where(OutgoingEmail.to_address == ada.email)).all()
    assert names == ["registration_confirmed", "registration_confirmed"]


def test_raising_a_day_capacity_promotes_the_waiting_list(app, admin_client, make_event, make_registration):
    slug = make_event(day_capacity=1)
    make_registration(slug, email="first@example.org")
    waiting = make_registration(slug, email="second@example.org")
    assert waiting.status == "waitlisted"
    token = csrf_of(admin_client, f"/admin/event?event={slug}")
    response = admin_client.post(f"/admin/event?event={slug}", data={
        "csrf_token": token, "which": "day1", "day1-position": "1", "day1-capacity": "2"})
    assert response.status_code == 303
    with app.app_context():
        assert db.session.get(Registration, waiting.id).status == "waitlisted"  # day 2 is still full
    token = csrf_of(admin_client, f"/admin/event?event={slug}")
    admin_client.post(f"/admin/event?event={slug}", data={
        "csrf_token": token, "which": "day2", "day2-position": "2", "day2-capacity": "2"})
    with app.app_context():
        assert db.session.get(Registration, waiting.id).status == "confirmed"


def test_a_negative_capacity_is_a_field_error(app, admin_client, make_event):
    slug = make_event()
    token = csrf_of(admin_client, f"/admin/event?event={slug}")
    response = admin_client.post(f"/admin/event?event={slug}", data={
        "csrf_token": token, "which": "day1", "day1-position": "1", "day1-capacity": "-4"})
    assert response.status_code == 400
    assert "Enter a number of seats from 0 to 100,000." in page_text(response)


def test_the_dashboard_counts_registrations(app, staff_client, make_event, make_registration):
    slug = make_event(day_capacity=1)
    make_registration(slug, email="a@example.org")
    make_registration(slug, email="b@example.org")
    response = staff_client.get(f"/admin/?event={slug}")
    assert response.status_code == 200
    text = page_text(response)
    assert "Registered 1" in text and "Waiting list 1" in text
    assert "<svg" in response.get_data(as_text=True)


def _edit(client, registration_id, **changes):
    from tests.support.registration import VALID_FORM

    token = csrf_of(client, f"/admin/attendees/{registration_id}/edit")
    data = {key: VALID_FORM[key] for key in ("first_name", "last_name", "email", "organization", "job_title",
                                             "category", "dietary", "accessibility")}
    return client.post(f"/admin/attendees/{registration_id}/edit", data={"csrf_token": token, **data, **changes})


def test_an_organiser_corrects_details_and_old_links_stop_working(app, admin_client, make_event, make_registration):
    slug = make_event()
    ada = make_registration(slug)
    response = _edit(admin_client, ada.id, last_name="King", email="ada.king@example.org", dietary="=cmd|' /C calc'!A0")
    assert response.status_code == 303
    with app.app_context():
        changed = db.session.get(Registration, ada.id)
        assert (changed.last_name, changed.email, changed.email_key) == ("King", "ada.king@example.org",
                                                                         "ada.king@example.org")
        assert changed.dietary == "=cmd|' /C calc'!A0"
        assert changed.token_version == ada.token_version + 1


def test_an_address_of_another_registration_is_a_field_error(app, admin_client, make_event, make_registration):
    slug = make_event()
    ada = make_registration(slug)
    make_registration(slug, email="grace@example.org")
    response = _edit(admin_client, ada.id, email="Grace@Example.org")
    assert response.status_code == 400
    assert "Another registration for this event already uses this address." in page_text(response)
    with app.app_context():
        assert db.session.get(Registration, ada.id).email == "ada@example.org"


def test_staff_cannot_edit(app, staff_client, make_event, make_registration):
    slug = make_event()
    ada = make_registration(slug)
    assert staff_client.get(f"/admin/attendees/{ada.id}/edit").status_code == 403


def _event_file(admin_client, slug, text):
    token = csrf_of(admin_client, f"/admin/event?event={slug}")
    return admin_client.post(f"/admin/event?event={slug}", data={"csrf_token": token, "which": "file", "event_file": text})


def test_the_event_file_round_trips_and_saves_a_new_window(app, admin_client, make_event):
    from portal.registration.event_file import event_as_toml, parse_event_text
    from portal.registration.service import get_event

    slug = make_event()
    with app.app_context():
        text = event_as_toml(get_event(slug))
        assert parse_event_text(text).slug == slug
    changed = text.replace('title = "Test Policy Summit"', 'title = "Renamed Summit"')
    assert _event_file(admin_client, slug, changed).status_code == 303
    with app.app_context():
        assert get_event(slug).title == "Renamed Summit"


def test_a_bad_event_file_lists_every_problem_and_changes_nothing(app, admin_client, make_event):
    from portal.registration.event_file import event_as_toml
    from portal.registration.service import get_event

    slug = make_event()
    with app.app_context():
        text = event_as_toml(get_event(slug))
    broken = text.replace('title = "Test Policy Summit"', 'title = ""').replace("capacity = 100", "capacity = -1", 1)
    response = _event_file(admin_client, slug, broken)
    assert response.status_code == 400
    body = page_text(response)
    assert "title:" in body and "capacity" in body
    assert _event_file(admin_client, slug, "this is = = not toml").status_code == 400
    renamed = _event_file(admin_client, slug, text.replace(f'slug = "{slug}"', 'slug = "another-slug"'))
    assert "slug: stays" in page_text(renamed)
    with app.app_context():
        assert get_event(slug).title == "Test Policy Summit"


def test_staff_see_an_attendee_but_cannot_cancel_or_resend(app, staff_client, make_event, make_registration):
    slug = make_event()
    ada = make_registration(slug)
    page = staff_client.get(f"/admin/attendees/{ada.id}")
    assert page.status_code == 200 and "Cancel this registration" not in page.get_data(as_text=True)
    token = csrf_of(staff_client, f"/admin/attendees/{ada.id}")
    for action in ("cancel", "resend"):
        assert staff_client.post(f"/admin/attendees/{ada.id}/{action}", data={"csrf_token": token}).status_code == 403
    with app.app_context():
        assert db.session.get(Registration, ada.id).status == "confirmed"


def test_the_dashboard_counts_check_ins_per_day_and_category(app, staff_client, make_event, make_registration):
    from portal.registration import checkin
    from portal.registration.service import get_event

    slug = make_event()
    ada = make_registration(slug)
    make_registration(slug, email="b@example.org", category="student")
    with app.app_context():
        event = get_event(slug)
        for position in (1, 2):
            checkin.check_in(event, ada.code, event.day_at(position), None)
        db.session.commit()
    html = staff_client.get(f"/admin/?event={slug}").get_data(as_text=True)
    member_row = html[html.index("Society member</th>"):].split("</tr>")[0]
    assert member_row.endswith("<td>1</td>")


def test_an_attendee_page_shows_whether_their_address_is_suppressed(app, admin_client, staff_client, make_event,
                                                                   make_registration):
    from portal.deliverability.models import DeliveryEvent, MailSuppression

    slug = make_event()
    ada = make_registration(slug, email="Ada@Example.org")
    grace = make_registration(slug, email="grace@example.org")
    assert "Mail delivery No bounce or complaint recorded" in page_text(admin_client.get(f"/admin/attendees/{grace.id}"))
    with app.app_context():
        event = DeliveryEvent(kind="hard_bounce", address_key="ada@example.org", status_code="5.1.1",
                              diagnostic="550 5.1.1 User unknown", source="dsn")
        db.session.add(event)
        db.session.flush()
        entry = MailSuppression(address_key="ada@example.org", reason="hard_bounce", event_id=event.id)
        db.session.add(entry)
        db.session.commit()
        entry_id = entry.id
    page = admin_client.get(f"/admin/attendees/{ada.id}")
    text = page_text(page)
    assert "Bulk mail Suppressed since" in text and "(hard bounce): digests and other mailings are withheld." in text
    assert "Last bounce Hard," in text and "5.1.1 : 550 5.1.1 User unknown" in text
    assert "Last complaint None recorded" in text
    assert f'href="/admin/deliverability/suppressions/{entry_id}/clear"' in page.get_data(as_text=True)
    # Staff see the state, not the admin's way to change it.
    staff_page = staff_client.get(f"/admin/attendees/{ada.id}")
    assert "Bulk mail Suppressed since" in page_text(staff_page)
    assert "/admin/deliverability/" not in staff_page.get_data(as_text=True)


@pytest.mark.parametrize("path", [
    "/admin/attendees/{id}", "/admin/attendees/{id}/certificate.pdf", "/admin/resources/{id}/edit",
])
def test_an_id_beyond_the_database_range_is_not_found(admin_client, path):
    for row_id in (2**31, 2**63, 10**30):
        assert admin_client.get(path.format(id=row_id)).status_code == 404


def test_statuses_read_as_words_with_a_capital_on_the_list_and_the_detail_page(app, staff_client, make_event,
                                                                               make_registration):
    slug = make_event()
    ada = make_registration(slug)
    listing = staff_client.get(f"/admin/attendees?event={slug}").get_data(as_text=True)
    detail = staff_client.get(f"/admin/attendees/{ada.id}").get_data(as_text=True)
    for html in (listing, detail):
        assert 'status--confirmed">Confirmed</span>' in html
        assert ">confirmed<" not in html
