"""Freed seats go to the waiting list automatically, in order, each promotion emailed once."""
import pytest

from portal.extensions import db
from portal.registration import service
from tests.support.mail import outbox
from tests.support.registration import manage_path, new_event, register, registrations
from tests.support.web import csrf_token_from


@pytest.fixture
def wl_app(make_app):
    return make_app(RATELIMIT_ENABLED=False)


def fill(app, slug, *entries):
    """Register (address, days) pairs in order from one client."""
    client = app.test_client()
    for address, days in entries:
        assert register(client, slug, email=address, days=days).status_code == 303


def statuses(app, slug):
    return {r.email: r.status for r in registrations(app, slug)}


def test_cancel_promotes_the_first_waiting_registrant_and_emails_them_once(wl_app):
    slug = new_event(wl_app, day_capacity=1)
    fill(wl_app, slug, ("holder@example.org", "all"), ("first@example.org", "all"), ("second@example.org", "all"))
    client = wl_app.test_client()
    path = manage_path(outbox(wl_app, "registration_confirmed")[0].text)

    confirm_page = client.get(path + "/cancel")
    assert confirm_page.status_code == 200 and statuses(wl_app, slug)["holder@example.org"] == "confirmed"
    token = csrf_token_from(confirm_page.get_data(as_text=True))
    assert client.post(path + "/cancel", data={"csrf_token": token}).status_code == 303
    assert client.post(path + "/cancel", data={"csrf_token": token}).status_code == 302  # already cancelled

    assert statuses(wl_app, slug) == {
        "holder@example.org": "cancelled", "first@example.org": "confirmed", "second@example.org": "waitlisted",
    }
    promoted = outbox(wl_app, "registration_promoted")
    assert [e.to for e in promoted] == ["first@example.org"]
    assert "A seat is yours" in promoted[0].subject and "/manage/" in promoted[0].text
    assert [e.to for e in outbox(wl_app, "registration_cancelled")] == ["holder@example.org"]


def test_cancelling_twice_through_the_service_promotes_and_emails_once(wl_app):
    slug = new_event(wl_app, day_capacity=1)
    fill(wl_app, slug, ("holder@example.org", "all"), ("first@example.org", "all"))
    holder = registrations(wl_app, slug)[0]
    with wl_app.app_context():
        assert [r.email for r in service.cancel_registration(holder.id)] == ["first@example.org"]
        db.session.commit()
        assert service.cancel_registration(holder.id) == []
        db.session.commit()
    assert len(outbox(wl_app, "registration_promoted")) == 1
    assert len(outbox(wl_app, "registration_cancelled")) == 1


def test_a_waiting_registrant_who_does_not_fit_does_not_block_one_who_does(wl_app):
    slug = new_event(wl_app, day_capacity=1)
    fill(
        wl_app, slug,
        ("day1@example.org", "1"), ("day2@example.org", "2"),
        ("wants-both@example.org", "all"), ("wants-day1@example.org", "1"), ("also-day1@example.org", "1"),
    )
    day1_holder = registrations(wl_app, slug)[0]
    with wl_app.app_context():
        promoted = [r.email for r in service.cancel_registration(day1_holder.id)]
        db.session.commit()
    assert promoted == ["wants-day1@example.org"]
    assert statuses(wl_app, slug)["wants-both@example.org"] == "waitlisted"
    assert statuses(wl_app, slug)["also-day1@example.org"] == "waitlisted"


def test_raising_a_days_capacity_promotes_in_order(wl_app):
    slug = new_event(wl_app, day_capacity=1)
    fill(
        wl_app, slug,
        ("holder@example.org", "all"), ("first@example.org", "all"), ("second@example.org", "2"),
        ("third@example.org", "all"),
    )
    event_id = registrations(wl_app, slug)[0].event_id
    with wl_app.app_context():
        assert service.set_day_capacity(event_id, 1, 3) == []  # day 2 is still full
        promoted = [r.email for r in service.set_day_capacity(event_id, 2, 3)]
        db.session.commit()
    assert promoted == ["first@example.org", "second@example.org"]
    assert statuses(wl_app, slug)["third@example.org"] == "waitlisted"
    assert [e.to for e in outbox(wl_app, "registration_promoted")] == ["first@example.org", "second@example.org"]


def test_raising_the_overall_capacity_promotes_and_lowering_demotes_no_one(wl_app):
    slug = new_event(wl_app, day_capacity=10, capacity=1)
    fill(wl_app, slug, ("holder@example.org", "1"), ("first@example.org", "2"), ("second@example.org", "1"))
    event_id = registrations(wl_app, slug)[0].event_id
    with wl_app.app_context():
        assert [r.email for r in service.set_event_capacity(event_id, 2)] == ["first@example.org"]
        assert service.set_event_capacity(event_id, 0) == []
        db.session.commit()
    assert statuses(wl_app, slug) == {
        "holder@example.org": "confirmed", "first@example.org": "confirmed", "second@example.org": "waitlisted",
    }


def test_waiting_list_positions_move_up_when_someone_ahead_leaves(wl_app):
    slug = new_event(wl_app, day_capacity=1)
    fill(wl_app, slug, ("holder@example.org", "all"), ("first@example.org", "all"), ("second@example.org", "all"))
    holder, first, second = registrations(wl_app, slug)
    with wl_app.app_context():
        service.cancel_registration(first.id)
        db.session.commit()
        assert service.waitlist_position(service.registration_from_token(_token(second))) == 1


def _token(registration):
    from portal.registration.tokens import make_manage_token

    return make_manage_token(registration.code, registration.token_version)
