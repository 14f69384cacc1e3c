"""Registering: a seat or a waiting-list place, the right email, and duplicates that reveal nothing."""
import pytest

from portal.extensions import db
from portal.mail.message import parsed_message
from portal.mail.models import OutgoingEmail
from tests.support.mail import outbox
from tests.support.registration import new_event, register, registrations, status_counts
from tests.support.web import page_text


@pytest.fixture
def reg_app(make_app):
    return make_app(RATELIMIT_ENABLED=False)


def test_registration_with_free_seats_is_confirmed_and_emailed(reg_app):
    slug = new_event(reg_app)
    client = reg_app.test_client()
    response = register(client, slug, email="Ada.Lovelace@Example.org", dietary="vegetarian\r\nno nuts")

    assert response.status_code == 303
    assert response.headers["Location"] == f"/events/{slug}/registered"
    done = page_text(client.get(response.headers["Location"]))
    assert "You are registered" in done and "the address you gave" in done

    [registration] = registrations(reg_app, slug)
    assert registration.status == "confirmed" and registration.confirmed_at is not None
    assert registration.email == "Ada.Lovelace@Example.org"  # stored as typed
    assert registration.dietary == "vegetarian\nno nuts"
    assert len(registration.code) == 8 and set(registration.code) <= set("ABCDEFGHJKLMNPQRSTUVWXYZ23456789")
    [email] = outbox(reg_app)
    assert email.name == "registration_confirmed" and email.to == "Ada.Lovelace@Example.org"
    for fact in [
        "Monday, September 23, 2030", "8:30 a.m. – 5:30 p.m. EDT (UTC−4)", "Tuesday, September 24, 2030",
        "8:30 a.m. – 3:00 p.m. EDT", "Capitol Convention Hall", "900 Massachusetts Avenue NW, Washington, DC 20001",
        "America/New_York", "Ada Lovelace", "Analytical Engine Society", "Director of Policy",
        "Society member ($395.00)", "Both days", "vegetarian / no nuts", registration.code, "/manage/",
    ]:
        assert fact in email.text, fact
    assert f'src="cid:checkin-{registration.code}@portal.localhost"' in email.html


def test_registration_for_a_full_day_joins_the_waiting_list_and_learns_its_position_by_email(reg_app):
    slug = new_event(reg_app, day_capacity=1)
    client = reg_app.test_client()
    register(client, slug, email="first@example.org", days="2")
    register(client, slug, email="second@example.org", days="all")
    response = register(client, slug, email="third@example.org", days="2")

    done = page_text(client.get(response.headers["Location"]))
    assert "You are on the waiting list." in done and "position" not in done
    assert status_counts(reg_app, slug) == {"confirmed": 1, "waitlisted": 2}
    waitlisted = outbox(reg_app, "registration_waitlisted")
    assert [e.to for e in waitlisted] == ["second@example.org", "third@example.org"]
    assert waitlisted[0].subject.endswith("you are number 1")
    assert "Day 2 is full" in waitlisted[0].text and "position 1" in waitlisted[0].text
    assert "position 2" in waitlisted[1].text


def test_overall_capacity_limits_attendees_across_days(reg_app):
    slug = new_event(reg_app, day_capacity=10, capacity=2)
    client = reg_app.test_client()
    for address, days in [("a@example.org", "1"), ("b@example.org", "2"), ("c@example.org", "1")]:
        register(client, slug, email=address, days=days)
    assert [r.status for r in registrations(reg_app, slug)] == ["confirmed", "confirmed", "waitlisted"]
    [waitlisted] = outbox(reg_app, "registration_waitlisted")
    assert "The summit is full, so you are on the waiting list, in position 1" in waitlisted.text


def test_same_address_in_other_case_creates_nothing_and_emails_the_owner(reg_app):
    slug = new_event(reg_app)
    client = reg_app.test_client()
    first = register(client, slug, email="ada@example.org")
    first_page = page_text(client.get(first.headers["Location"]))
    again = register(reg_app.test_client(), slug, email="  ADA@Example.ORG ", first_name="Someone")
    assert again.status_code == 303 and again.headers["Location"] == first.headers["Location"]

    other_client = reg_app.test_client()
    again = register(other_client, slug, email="ADA@Example.ORG")
    again_page = page_text(other_client.get(again.headers["Location"]))
    assert again_page.replace("ADA@Example.ORG", "ada@example.org") == first_page

    [registration] = registrations(reg_app, slug)
    assert registration.first_name == "Ada"
    names = [(e.name, e.to) for e in outbox(reg_app)]
    assert names == [
        ("registration_confirmed", "ada@example.org"),
        ("registration_already_registered", "ada@example.org"),
        ("registration_already_registered", "ada@example.org"),
    ]
    reminder = outbox(reg_app, "registration_already_registered")[0]
    assert "already registered" in reminder.text and "/manage/" in reminder.text


def test_duplicate_sees_what_a_newcomer_would_see_so_the_page_reveals_nothing(reg_app):
    slug = new_event(reg_app, day_capacity=1)
    client = reg_app.test_client()
    register(client, slug, email="holder@example.org")  # confirmed: the event is now full
    register(client, slug, email="waiting@example.org")  # waiting list, position 1

    duplicate_client, newcomer_client = reg_app.test_client(), reg_app.test_client()
    duplicate = register(duplicate_client, slug, email="HOLDER@example.org")
    duplicate_page = page_text(duplicate_client.get(duplicate.headers["Location"]))
    assert "You are on the waiting list." in duplicate_page

    [reminder] = outbox(reg_app, "registration_already_registered")
    assert reminder.to == "holder@example.org" and "Your seat is confirmed" in reminder.text

    newcomer = register(newcomer_client, slug, email="new@example.org")
    newcomer_page = page_text(newcomer_client.get(newcomer.headers["Location"]))
    # Identical but for the address each visitor typed, which both pages echo.
    assert newcomer_page.replace("new@example.org", "HOLDER@example.org") == duplicate_page


def test_cancelled_registration_frees_the_address_for_a_new_one(reg_app):
    from portal.registration.service import cancel_registration

    slug = new_event(reg_app)
    client = reg_app.test_client()
    register(client, slug, email="ada@example.org")
    with reg_app.app_context():
        cancel_registration(registrations(reg_app, slug)[0].id)
        db.session.commit()
    register(client, slug, email="Ada@example.org")
    assert [r.status for r in registrations(reg_app, slug)] == ["cancelled", "confirmed"]


def test_done_page_without_a_registration_in_this_session_goes_back_to_the_event(reg_app):
    slug = new_event(reg_app)
    response = reg_app.test_client().get(f"/events/{slug}/registered")
    assert response.status_code == 302 and response.headers["Location"] == f"/events/{slug}"


def test_confirmation_headers_carry_only_what_the_portal_set(reg_app):
    slug = new_event(reg_app)
    register(
        reg_app.test_client(), slug, email="zoe@example.org", first_name="Zoë Bcc: x@example.org",
        organization="Subject: Engines",
    )
    with reg_app.app_context():
        row = db.session.query(OutgoingEmail).one()
        message = parsed_message(row)
        assert message["To"] == "zoe@example.org"
        assert message["Bcc"] is None and message["Cc"] is None
        assert message["Subject"] == "You are registered: Test Policy Summit, September 23–24, 2030"
        header_names = {name.lower() for name in message.keys()}
        assert header_names <= {"subject", "from", "to", "date", "message-id", "mime-version", "content-type",
                                "auto-submitted"}
