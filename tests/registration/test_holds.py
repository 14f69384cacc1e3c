"""REGISTRATION_CONFIRM_EMAIL: a new registration holds its place until its address is confirmed."""
import re
from datetime import timedelta

import pytest
from sqlalchemy import update

from portal.database import utcnow
from portal.extensions import db
from portal.registration.models import Registration
from portal.registration.tasks import release_expired_holds
from tests.support.mail import outbox
from tests.support.registration import new_event, register, registrations
from tests.support.web import csrf_token_from, page_text

VERIFY_LINK = re.compile(r"https?://\S+(/verify/[A-Za-z0-9_.\-]+)")


@pytest.fixture
def hold_app(make_app):
    return make_app(RATELIMIT_ENABLED=False, REGISTRATION_CONFIRM_EMAIL=True, REGISTRATION_HOLD_HOURS=24)


def _verify_path(app, email: str) -> str:
    mail = [m for m in outbox(app, "registration_verify") if m.to == email][-1]
    return VERIFY_LINK.search(mail.text).group(1)


def _expire_holds(app, *emails):
    with app.app_context():
        db.session.execute(update(Registration).where(Registration.email.in_(emails))
                           .values(hold_expires_at=utcnow() - timedelta(minutes=1)))
        db.session.commit()


def test_a_new_registration_is_held_and_only_the_post_from_the_link_confirms_it(hold_app):
    slug = new_event(hold_app)
    client = hold_app.test_client()
    response = register(client, slug, email="ada@example.org")
    assert "confirm your email address" in page_text(client.get(response.location))
    assert [m.name for m in outbox(hold_app)] == ["registration_verify"]
    [held] = registrations(hold_app, slug)
    assert held.status == "confirmed" and held.hold_expires_at is not None and held.email_confirmed_at is None

    path = _verify_path(hold_app, "ada@example.org")
    page = client.get(path)
    assert page.status_code == 200 and "Confirm my registration" in page.get_data(as_text=True)
    assert registrations(hold_app, slug)[0].email_confirmed_at is None  # opening the link confirms nothing

    client.post(path, data={"csrf_token": csrf_token_from(page.get_data(as_text=True))})
    [confirmed] = registrations(hold_app, slug)
    assert confirmed.email_confirmed_at is not None and confirmed.hold_expires_at is None
    assert [m.name for m in outbox(hold_app)] == ["registration_verify", "registration_confirmed"]
    assert "Your address is confirmed" in page_text(client.get(path))


def test_an_unconfirmed_hold_is_released_and_the_next_in_line_gets_the_seat(hold_app):
    slug = new_event(hold_app, day_capacity=1)
    client = hold_app.test_client()
    register(client, slug, email="fake@example.org", days="1")
    register(client, slug, email="real@example.org", days="1")
    waiting = _verify_path(hold_app, "real@example.org")
    client.post(waiting, data={"csrf_token": csrf_token_from(client.get(waiting).get_data(as_text=True))})
    _expire_holds(hold_app, "fake@example.org")

    with hold_app.app_context():
        assert release_expired_holds() == 1
    statuses = {r.email: r.status for r in registrations(hold_app, slug)}
    assert statuses == {"fake@example.org": "cancelled", "real@example.org": "confirmed"}
    mail_to_fake = [m.name for m in outbox(hold_app) if m.to == "fake@example.org"]
    assert mail_to_fake == ["registration_verify"]  # nothing about the release: the address may be made up
    assert [m.name for m in outbox(hold_app) if m.to == "real@example.org"][-1] == "registration_promoted"


def test_confirmed_addresses_and_unexpired_holds_are_never_released(hold_app):
    slug = new_event(hold_app)
    client = hold_app.test_client()
    register(client, slug, email="ada@example.org")
    register(client, slug, email="grace@example.org")
    path = _verify_path(hold_app, "ada@example.org")
    client.post(path, data={"csrf_token": csrf_token_from(client.get(path).get_data(as_text=True))})
    with hold_app.app_context():
        assert release_expired_holds() == 0
    _expire_holds(hold_app, "ada@example.org")
    with hold_app.app_context():
        assert release_expired_holds() == 0
    assert {r.status for r in registrations(hold_app, slug)} == {"confirmed"}


def test_the_link_of_a_released_hold_says_so_and_confirms_nothing(hold_app):
    slug = new_event(hold_app)
    client = hold_app.test_client()
    register(client, slug, email="ada@example.org")
    path = _verify_path(hold_app, "ada@example.org")
    _expire_holds(hold_app, "ada@example.org")
    with hold_app.app_context():
        release_expired_holds()
    page = client.get(path)
    assert "no longer held" in page_text(page)
    client.post(path, data={"csrf_token": csrf_token_from(client.get("/manage/lost-link").get_data(as_text=True))})
    assert registrations(hold_app, slug)[0].status == "cancelled"


def test_waiting_list_order_stays_first_come_first_served_with_holds(hold_app):
    slug = new_event(hold_app, day_capacity=1)
    client = hold_app.test_client()
    for email in ("holder@example.org", "first@example.org", "second@example.org"):
        register(client, slug, email=email, days="1")
    _expire_holds(hold_app, "holder@example.org")
    with hold_app.app_context():
        release_expired_holds()
    statuses = {r.email: r.status for r in registrations(hold_app, slug)}
    assert statuses["first@example.org"] == "confirmed" and statuses["second@example.org"] == "waitlisted"


def test_with_the_setting_off_nothing_is_held(make_app):
    app = make_app(RATELIMIT_ENABLED=False)
    slug = new_event(app)
    register(app.test_client(), slug, email="ada@example.org")
    [registration] = registrations(app, slug)
    assert registration.hold_expires_at is None
    assert [m.name for m in outbox(app)] == ["registration_confirmed"]
