"""The demo seed: a fresh install always shows a live Policy Summit form."""
from datetime import date

from sqlalchemy import func, select

from portal.database import utcnow
from portal.extensions import db
from portal.registration.demo import next_summit_first_day, seed_demo_event
from portal.registration.models import Event
from tests.support.web import page_text


def test_summit_is_on_the_next_september_23_still_ahead():
    assert next_summit_first_day(date(2026, 9, 22)) == date(2026, 9, 23)
    assert next_summit_first_day(date(2026, 9, 23)) == date(2027, 9, 23)
    assert next_summit_first_day(date(2026, 11, 24)) == date(2027, 9, 23)
    assert next_summit_first_day(date(2027, 1, 1)) == date(2027, 9, 23)


def test_seeding_twice_creates_one_open_two_day_summit_in_washington(app):
    with app.app_context():
        event, created = seed_demo_event()
        db.session.commit()
        again, created_again = seed_demo_event()
        db.session.commit()
        assert (created, created_again) == (True, False) and again.id == event.id
        assert db.session.scalar(select(func.count(Event.id))) == 1
        assert event.is_open(utcnow())
        assert event.registration_closes_at < event.first_day.local_start.replace(tzinfo=None)
        assert [day.date.isoformat()[5:] for day in event.days] == ["09-23", "09-24"]
        assert event.city == "Washington" and event.timezone == "America/New_York"
        assert {c.code for c in event.categories} == {
            "member", "non_member", "student", "patient_advocate", "government", "press",
        }


def test_fresh_install_shows_a_live_form_at_the_summit_address(app):
    with app.app_context():
        seed_demo_event()
        db.session.commit()
    client = app.test_client()
    event_page = client.get("/summit", follow_redirects=True)
    assert "Register now" in page_text(event_page)
    form = client.get(event_page.request.path + "/register")
    assert form.status_code == 200 and 'name="first_name"' in form.get_data(as_text=True)
    assert "Paying the fee An invoice follows by email after you register." in page_text(form)


def test_seed_demo_command_reports_the_summit(make_app):
    app = make_app(DEVELOPMENT=True)  # as `make run` runs it
    with app.app_context():
        result = app.test_cli_runner().invoke(args=["seed-demo"])
    assert result.exit_code == 0, result.output
    assert "Policy Summit" in result.output and "/events/policy-summit-" in result.output


def test_seed_demo_refuses_outside_development_and_writes_nothing(app):
    from portal.admin.models import AdminUser
    from portal.registration.models import Event

    with app.app_context():
        result = app.test_cli_runner().invoke(args=["seed-demo"])
        assert result.exit_code != 0 and "local development" in result.output
        assert db.session.query(Event).count() == 0 and db.session.query(AdminUser).count() == 0
