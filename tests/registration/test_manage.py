"""The manage link: view, change, cancel without an account; bad links get a clear page, never a 500."""
import time
from datetime import timedelta

import icalendar
import pytest
from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from sqlalchemy import select, update

from portal.database import utcnow
from portal.extensions import db
from portal.mail.models import OutgoingEmail
from portal.registration.models import Event, Registration
from portal.registration.tokens import MANAGE_LINK_PURPOSE
from tests.support.deferred import decide_requests
from tests.support.mail import outbox
from tests.support.registration import manage_path, new_event, register, registrations
from tests.support.wait import wait_until
from tests.support.web import csrf_token_from, page_text


@pytest.fixture
def m_app(make_app):
    return make_app(RATELIMIT_ENABLED=False)


def registered(app, slug, **fields):
    """Register and return (client, manage path from the email)."""
    client = app.test_client()
    assert register(client, slug, **fields).status_code == 303
    return client, manage_path(outbox(app)[-1].text)


def post_change(client, path, **fields):
    token = csrf_token_from(client.get(path).get_data(as_text=True))
    data = {"days": "all", "dietary": "", "accessibility": "", **fields, "csrf_token": token}
    return client.post(path, data=data)


def test_manage_link_shows_the_registration(m_app):
    slug = new_event(m_app)
    client, path = registered(m_app, slug, dietary="vegan")
    response = m_app.test_client().get(path)  # works in another browser: no login, no session
    assert response.status_code == 200
    text = page_text(response)
    code = registrations(m_app, slug)[0].code
    for fact in ["Confirmed", "Ada Lovelace", "ada@example.org", "vegan", code, "Capitol Convention Hall"]:
        assert fact in text, fact


def test_tampered_link_gets_a_400_page_with_a_way_to_get_a_new_link(m_app):
    slug = new_event(m_app)
    _, path = registered(m_app, slug)
    response = m_app.test_client().get(path[:-3] + ("AAA" if not path.endswith("AAA") else "BBB"))
    assert response.status_code == 400
    assert "This link is not valid" in page_text(response)
    assert 'action="/manage/lost-link"' in response.get_data(as_text=True)
    assert m_app.test_client().get("/manage/not-a-token-at-all").status_code == 400


def test_expired_link_gets_a_410_page(m_app):
    slug = new_event(m_app)
    registered(m_app, slug)
    registration = registrations(m_app, slug)[0]

    class SixtyOneDaysAgo(TimestampSigner):
        def get_timestamp(self):
            return int(time.time()) - 61 * 24 * 3600

    old = URLSafeTimedSerializer(m_app.config["SECRET_KEY"], salt=MANAGE_LINK_PURPOSE, signer=SixtyOneDaysAgo)
    token = old.dumps([registration.code, registration.token_version])
    response = m_app.test_client().get(f"/manage/{token}")
    assert response.status_code == 410
    assert "This link has expired" in page_text(response)


def test_link_for_an_unknown_registration_gets_a_404_page(m_app):
    serializer = URLSafeTimedSerializer(m_app.config["SECRET_KEY"], salt=MANAGE_LINK_PURPOSE)
    response = m_app.test_client().get(f"/manage/{serializer.dumps(['ZZZZZZZZ', 1])}")
    assert response.status_code == 404
    assert "We could not find this registration" in page_text(response)


def test_link_signed_for_another_purpose_is_refused(m_app):
    slug = new_event(m_app)
    registered(m_app, slug)
    registration = registrations(m_app, slug)[0]
    other = URLSafeTimedSerializer(m_app.config["SECRET_KEY"], salt="some-other-purpose")
    response = m_app.test_client().get(f"/manage/{other.dumps([registration.code, 1])}")
    assert response.status_code == 400


def test_raising_the_token_version_revokes_old_links(m_app):
    slug = new_event(m_app)
    _, path = registered(m_app, slug)
    with m_app.app_context():
        db.session.execute(update(Registration).values(token_version=Registration.token_version + 1))
        db.session.commit()
    response = m_app.test_client().get(path)
    assert response.status_code == 410


def test_changing_days_keeps_the_seat_and_emails_the_change(m_app):
    slug = new_event(m_app)
    client, path = registered(m_app, slug)
    response = post_change(client, path, days="1", dietary="halal")
    assert response.status_code == 303
    page = page_text(client.get(path))
    assert "Your registration is updated" in page and "Day 1 only" in page and "halal" in page
    [registration] = registrations(m_app, slug)
    assert registration.status == "confirmed" and registration.dietary == "halal"
    [changed] = outbox(m_app, "registration_changed")
    assert "Days: Both days" in changed.text and "→ Day 1 only" in changed.text
    assert "Dietary needs updated" in changed.text


def test_changing_to_a_full_day_is_refused_and_changes_nothing(m_app):
    slug = new_event(m_app, day_capacity=1)
    registered(m_app, slug, email="day2@example.org", days="2")
    client, path = registered(m_app, slug, email="day1@example.org", days="1")
    response = post_change(client, path, days="all", dietary="vegan")
    assert response.status_code == 200
    assert "Day 2 (Tuesday, September 24, 2030) is full" in page_text(response)
    registration = registrations(m_app, slug)[1]
    assert registration.dietary == "" and registration.status == "confirmed"
    assert outbox(m_app, "registration_changed") == []


def test_giving_up_a_day_frees_the_seat_for_the_waiting_list(m_app):
    slug = new_event(m_app, day_capacity=1)
    client, path = registered(m_app, slug, email="both@example.org", days="all")
    registered(m_app, slug, email="day2@example.org", days="2")
    post_change(client, path, days="1")
    assert [r.status for r in registrations(m_app, slug)] == ["confirmed", "confirmed"]
    assert [e.to for e in outbox(m_app, "registration_promoted")] == ["day2@example.org"]


def test_waiting_registrant_who_switches_to_a_free_day_gets_a_seat_at_once(m_app):
    slug = new_event(m_app, day_capacity=1)
    registered(m_app, slug, email="day2@example.org", days="2")
    client, path = registered(m_app, slug, email="waiting@example.org", days="all")
    post_change(client, path, days="1")
    assert registrations(m_app, slug)[1].status == "confirmed"
    assert "you now have a seat" in page_text(client.get(path))
    assert [e.to for e in outbox(m_app, "registration_promoted")] == ["waiting@example.org"]
    assert outbox(m_app, "registration_changed") == []  # the promotion email says it all


def test_cancel_asks_first_and_cancelled_registration_shows_as_such(m_app):
    slug = new_event(m_app)
    client, path = registered(m_app, slug)
    confirm = client.get(path + "/cancel")
    assert "Cancel your registration?" in page_text(confirm)
    assert registrations(m_app, slug)[0].status == "confirmed"
    client.post(path + "/cancel", data={"csrf_token": csrf_token_from(confirm.get_data(as_text=True))})
    page = page_text(client.get(path))
    assert "Cancelled." in page and "Save changes" not in page
    assert client.get(path + "/cancel").status_code == 302


def test_cancel_without_csrf_token_changes_nothing(m_app):
    slug = new_event(m_app)
    client, path = registered(m_app, slug)
    assert client.post(path + "/cancel").status_code == 400
    assert registrations(m_app, slug)[0].status == "confirmed"


def test_after_registration_closes_the_manage_page_is_read_only(m_app):
    slug = new_event(m_app)
    client, path = registered(m_app, slug)
    with m_app.app_context():
        db.session.execute(update(Event).values(registration_closes_at=utcnow() - timedelta(minutes=1)))
        db.session.commit()
    page = page_text(client.get(path))
    assert "Online changes closed" in page and "Save changes" not in page
    token = csrf_token_from(client.get("/manage/lost-link").get_data(as_text=True))
    assert client.post(path + "/cancel", data={"csrf_token": token}).status_code == 303
    assert registrations(m_app, slug)[0].status == "confirmed"


def test_lost_link_sends_a_link_only_to_a_registered_address_and_answers_the_same(m_app):
    slug = new_event(m_app)
    registered(m_app, slug, email="Ada@Example.org")

    def ask(address):
        client = m_app.test_client()
        token = csrf_token_from(client.get("/manage/lost-link").get_data(as_text=True))
        response = client.post("/manage/lost-link", data={"email": address, "csrf_token": token})
        assert response.status_code == 303
        return page_text(client.get(response.headers["Location"])).replace(address, "ADDRESS")

    assert ask("ada@example.org") == ask("nobody@example.org")
    assert decide_requests(m_app) == ["sent", "unknown"]
    [link] = outbox(m_app, "registration_link")
    assert link.to == "Ada@Example.org"
    assert m_app.test_client().get(manage_path(link.text)).status_code == 200


def test_lost_link_with_an_invalid_address_shows_the_error(m_app):
    client = m_app.test_client()
    token = csrf_token_from(client.get("/manage/lost-link").get_data(as_text=True))
    response = client.post("/manage/lost-link", data={"email": "ada@example.org\r\nBcc: x@y.org", "csrf_token": token})
    assert response.status_code == 200
    assert "Enter an email address on one line" in page_text(response)
    assert outbox(m_app) == []


def calendar_attachments(app, email_name: str) -> list:
    with app.app_context():
        row = db.session.scalars(select(OutgoingEmail).where(OutgoingEmail.name == email_name)).one()
        return [icalendar.Calendar.from_ical(a.data) for a in row.attachments
                if a.content_type.startswith("text/calendar;")]


def calendar_attachment(app, email_name: str):
    [calendar] = calendar_attachments(app, email_name)
    return calendar


def uids(calendar) -> set[str]:
    return {str(entry["UID"]) for entry in calendar.walk("VEVENT")}


def test_cancellation_email_withdraws_the_calendar_entries(m_app):
    slug = new_event(m_app)
    client, path = registered(m_app, slug)
    confirm = client.get(path + "/cancel")
    client.post(path + "/cancel", data={"csrf_token": csrf_token_from(confirm.get_data(as_text=True))})

    published = calendar_attachment(m_app, "registration_confirmed")
    cancelled = calendar_attachment(m_app, "registration_cancelled")
    assert str(cancelled["METHOD"]) == "CANCEL"
    published_events = {str(e["UID"]): int(e["SEQUENCE"]) for e in published.walk("VEVENT")}
    cancelled_events = list(cancelled.walk("VEVENT"))
    assert {str(e["UID"]) for e in cancelled_events} == set(published_events) and len(published_events) == 2
    for entry in cancelled_events:
        assert str(entry["STATUS"]) == "CANCELLED"
        assert int(entry["SEQUENCE"]) > published_events[str(entry["UID"])]
        assert str(entry["ORGANIZER"]) == "mailto:summit@portal.localhost"
    assert "removes the Summit from your calendar" in outbox(m_app, "registration_cancelled")[0].text


def test_giving_up_a_day_sends_a_calendar_file_that_withdraws_it(m_app):
    slug = new_event(m_app)
    client, path = registered(m_app, slug)
    assert post_change(client, path, days="1").status_code == 303

    [day1_uid, day2_uid] = sorted(uids(calendar_attachment(m_app, "registration_confirmed")))
    current, withdrawal = calendar_attachments(m_app, "registration_changed")
    assert str(current["METHOD"]) == "PUBLISH" and uids(current) == {day1_uid}
    assert str(withdrawal["METHOD"]) == "CANCEL" and uids(withdrawal) == {day2_uid}
    assert "removes the day you gave up" in outbox(m_app, "registration_changed")[0].text


def _ask_for_link(app, address: str) -> None:
    client = app.test_client()
    token = csrf_token_from(client.get("/manage/lost-link").get_data(as_text=True))
    assert client.post("/manage/lost-link", data={"email": address, "csrf_token": token}).status_code == 303


def test_a_new_link_revokes_the_links_sent_before(m_app):
    slug = new_event(m_app)
    client, old_path = registered(m_app, slug, email="ada@example.org")
    _ask_for_link(m_app, "ada@example.org")
    decide_requests(m_app)
    new_path = manage_path(outbox(m_app, "registration_link")[-1].text)
    assert client.get(new_path).status_code == 200
    old = client.get(old_path)
    assert old.status_code == 410 and "when we send you a newer one" in old.get_data(as_text=True)


def test_link_emails_and_already_registered_emails_are_capped_per_registration_and_day(m_app):
    slug = new_event(m_app)
    registered(m_app, slug, email="ada@example.org")
    for _ in range(5):
        _ask_for_link(m_app, "ada@example.org")
        register(m_app.test_client(), slug, email="ada@example.org")  # decides both requests
    assert len(outbox(m_app, "registration_link")) == 3
    assert len(outbox(m_app, "registration_already_registered")) == 3


def test_a_cancelled_registrations_link_shows_only_that_it_is_cancelled(m_app):
    slug = new_event(m_app)
    client, path = registered(m_app, slug, email="ada@example.org", dietary="No nuts", organization="Engine Society")
    client.post(path + "/cancel", data={"csrf_token": csrf_token_from(client.get(path + "/cancel").get_data(as_text=True))})
    text = page_text(client.get(path))
    assert "Cancelled." in text
    for personal in ("ada@example.org", "Lovelace", "No nuts", "Engine Society"):
        assert personal not in text


def test_manage_pages_are_not_cached_and_send_no_referrer(m_app):
    slug = new_event(m_app)
    client, path = registered(m_app, slug)
    for url in (path, path + "/cancel", "/manage/not-a-token"):
        response = client.get(url)
        assert response.headers["Cache-Control"] == "no-store", url
        assert response.headers["Referrer-Policy"] == "same-origin", url


def test_tokens_stay_out_of_the_access_log(m_app, portal_server):
    import urllib.request

    server = portal_server()
    slug = new_event(m_app)
    client, path = registered(m_app, slug)
    token = path.rsplit("/", 1)[1]
    with urllib.request.urlopen(server.url + path, timeout=30) as response:
        assert response.status == 200
    log = wait_until(lambda: (lambda text: text if "/manage/" in text else None)(server.output()),
                     message="access log line")
    assert token not in log and "/manage/[token]" in log


def test_the_manage_page_marks_a_full_day_the_attendee_does_not_hold(m_app):
    slug = new_event(m_app, day_capacity=1)
    registered(m_app, slug, email="day2@example.org", days="2")
    client, path = registered(m_app, slug, email="day1@example.org", days="1")
    text = page_text(client.get(path))
    assert "Day 1 only: Monday, September 23, 2030 Day 2 only" in text  # their own seat: not full for them
    assert "Day 2 only: Tuesday, September 24, 2030 — full, join the waiting list" in text
    assert "Both days: September 23–24, 2030 — full, join the waiting list" in text
    assert "If a day you add is full, nothing changes: you keep your seat for the days you have." in text
