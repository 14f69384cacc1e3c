"""The public form: every bad input gets a clear message and writes nothing; bots and floods are stopped."""
import re
from datetime import timedelta

import pytest

from portal.database import utcnow
from tests.support.mail import outbox
from tests.support.registration import VALID_FORM, new_event, register, registrations
from tests.support.web import csrf_token_from, page_text

SCRIPT = "<script>alert(1)</script>"

BAD_INPUT = [
    ("first_name", "A" * 101, "100 characters or fewer"),
    ("first_name", "Ada\r\nBcc: victim@example.org", "on one line"),
    ("first_name", "Ada\nLovelace", "on one line"),
    ("first_name", SCRIPT, "angle brackets"),
    ("first_name", "   ", "Enter your first name"),
    ("last_name", "Love\x00lace", "on one line"),
    ("last_name", "Lovelace\rBcc: victim@example.org", "on one line"),
    ("last_name", SCRIPT, "angle brackets"),
    ("last_name", "L" * 101, "100 characters or fewer"),
    ("organization", "O" * 201, "200 characters or fewer"),
    ("organization", "Engines\x1b[31m Inc", "on one line"),
    ("organization", SCRIPT, "angle brackets"),
    ("job_title", "Director\nBcc: victim@example.org", "on one line"),
    ("job_title", "Dir\tector", "on one line"),
    ("job_title", SCRIPT, "angle brackets"),
    ("job_title", "J" * 201, "200 characters or fewer"),
    ("email", "not-an-email", "Enter a valid email address"),
    ("email", "ada@example.org\r\nBcc: victim@example.org", "on one line"),
    ("email", "ada@example.org\nSubject: hello", "on one line"),
    ("email", f"{SCRIPT}@example.org", "Enter a valid email address"),
    ("email", "a" * 250 + "@example.org", "Enter a valid email address"),
    ("email", "", "Enter your email address"),
    ("dietary", "D" * 501, "500 characters or fewer"),
    ("dietary", "vegetarian\x07", "control characters"),
    ("dietary", SCRIPT, "HTML tag"),
    ("accessibility", "step-free\x1b access", "control characters"),
    ("accessibility", "<img src=x onerror=alert(1)>", "HTML tag"),
    ("accessibility", "A" * 501, "500 characters or fewer"),
    ("category", "vip", "Choose your attendee category"),
    ("category", None, "Choose your attendee category"),
    ("days", "3", "Choose which days you will attend"),
    ("days", None, "Choose which days you will attend"),
    ("privacy", None, "Please agree to the privacy notice"),
]


@pytest.fixture
def form_app(make_app):
    return make_app(RATELIMIT_ENABLED=False)


@pytest.mark.parametrize(
    ("field", "value", "message"), BAD_INPUT, ids=[f"{field}-{index}" for index, (field, _, _) in enumerate(BAD_INPUT)]
)
def test_bad_input_is_refused_with_a_clear_message_and_nothing_written(form_app, field, value, message):
    slug = new_event(form_app)
    client = form_app.test_client()
    response = register(client, slug, **{field: value})

    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'role="alert"' in html  # the error summary at the top
    assert html.count(message) == 2  # once in the summary, once next to the field
    assert f'id="{field}-error"' in html
    assert SCRIPT not in html and "<img src=x" not in html
    assert registrations(form_app, slug) == []
    assert outbox(form_app) == []


def test_values_are_kept_when_the_form_comes_back_with_errors(form_app):
    slug = new_event(form_app)
    response = register(
        form_app.test_client(), slug, email="not-an-email", first_name="Zoë", organization="O'Brien & Partners",
        dietary="no nuts", category="student", days="2",
    )
    html = response.get_data(as_text=True)
    assert 'value="Zoë"' in html
    assert 'value="O&#39;Brien &amp; Partners"' in html
    assert 'value="not-an-email"' in html
    assert "no nuts</textarea>" in html
    assert 'checked id="category-2" name="category" type="radio" value="student"' in html
    assert 'checked id="days-2" name="days" type="radio" value="2"' in html


def test_error_fields_point_to_their_messages_for_screen_readers(form_app):
    slug = new_event(form_app)
    html = register(form_app.test_client(), slug, first_name="", email="nope").get_data(as_text=True)
    assert 'aria-describedby="first_name-error" aria-invalid="true"' in html
    assert 'aria-describedby="email-hint email-error" aria-invalid="true"' in html
    assert '<a href="#first_name">' in html and '<a href="#email">' in html


def test_script_tags_are_only_ever_shown_as_text(form_app):
    slug = new_event(form_app)
    html = register(form_app.test_client(), slug, organization=SCRIPT).get_data(as_text=True)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert SCRIPT not in html


def test_filled_honeypot_looks_like_success_but_writes_nothing(form_app):
    slug = new_event(form_app)
    client = form_app.test_client()
    response = register(client, slug, website="http://spam.example")
    assert response.status_code == 303
    assert "You are registered" in page_text(client.get(response.headers["Location"]))
    assert registrations(form_app, slug) == []
    assert outbox(form_app) == []


def test_honeypot_is_hidden_from_people_and_keyboards(form_app):
    slug = new_event(form_app)
    html = form_app.test_client().get(f"/events/{slug}/register").get_data(as_text=True)
    assert '<div class="visually-hidden" aria-hidden="true">' in html
    assert 'autocomplete="off"' in html and 'tabindex="-1"' in html


def test_form_works_without_javascript_and_inline_code(form_app):
    slug = new_event(form_app)
    html = form_app.test_client().get(f"/events/{slug}/register").get_data(as_text=True)
    # Only the cookie banner's own file may load (it enhances, the form never needs it); nothing inline.
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", html, re.S)
    assert [attrs.strip() for attrs, body in scripts if not body.strip()] == ['src="/static/js/consent.js" defer']
    assert all(not body.strip() for _, body in scripts)
    assert "style=" not in html and "<style" not in html
    assert f'<form method="post" action="/events/{slug}/register"' in html


def test_form_before_registration_opens_says_when_it_opens(form_app):
    slug = new_event(form_app, opens_at=utcnow() + timedelta(days=2))
    client = form_app.test_client()
    page = client.get(f"/events/{slug}/register")
    assert page.status_code == 200
    assert "Registration has not opened yet" in page_text(page)
    token = csrf_token_from(client.get("/manage/lost-link").get_data(as_text=True))
    response = client.post(f"/events/{slug}/register", data={**VALID_FORM, "csrf_token": token})
    assert "Registration has not opened yet" in page_text(response)
    assert registrations(form_app, slug) == []


def test_form_after_registration_closed_says_it_closed(form_app):
    slug = new_event(form_app, opens_at=utcnow() - timedelta(days=10), closes_at=utcnow() - timedelta(days=1))
    page = form_app.test_client().get(f"/events/{slug}/register")
    assert page.status_code == 200
    assert "Registration is closed" in page_text(page)


def test_unknown_event_gets_a_404_page(form_app):
    response = form_app.test_client().get("/events/no-such-summit/register")
    assert response.status_code == 404
    assert "Event not found" in page_text(response)


def test_summit_entry_point_leads_to_the_open_event(form_app):
    slug = new_event(form_app)
    response = form_app.test_client().get("/summit")
    assert response.status_code == 302
    assert response.headers["Location"] == f"/events/{slug}"


def test_summit_entry_point_without_any_event_says_so(form_app):
    response = form_app.test_client().get("/summit")
    assert response.status_code == 200
    assert "No Policy Summit is open for registration" in page_text(response)


def test_event_page_shows_every_fact_and_fee(form_app):
    slug = new_event(form_app)
    text = page_text(form_app.test_client().get(f"/events/{slug}"))
    for fact in [
        "Monday, September 23, 2030", "Tuesday, September 24, 2030", "8:30 a.m. – 5:30 p.m. EDT (UTC−4)",
        "8:30 a.m. – 3:00 p.m. EDT", "Capitol Convention Hall", "900 Massachusetts Avenue NW",
        "Washington, DC 20001", "America/New_York", "Society member $395.00", "Student or trainee $95.00",
        "Patient advocate No fee", "Register now",
    ]:
        assert fact in text, fact


def test_privacy_notice_shows_the_version_that_is_stored(form_app):
    slug = new_event(form_app)
    assert "Version test-1" in page_text(form_app.test_client().get(f"/events/{slug}/privacy"))
    register(form_app.test_client(), slug)
    assert registrations(form_app, slug)[0].privacy_policy_version == "test-1"


def test_too_many_posts_from_one_address_get_a_friendly_429(make_app):
    app = make_app(REGISTRATION_RATE_LIMIT="2 per minute")
    slug = new_event(app)
    client = app.test_client()
    assert register(client, slug, email="one@example.org").status_code == 303
    assert register(client, slug, email="two@example.org").status_code == 303
    response = register(client, slug, email="three@example.org")
    assert response.status_code == 429
    assert "Too many attempts" in page_text(response)
    assert [r.email for r in registrations(app, slug)] == ["one@example.org", "two@example.org"]
    assert client.get(f"/events/{slug}/register").status_code == 200  # reading the form is not limited


def test_lost_link_form_is_rate_limited_too(make_app):
    app = make_app(REGISTRATION_LOST_LINK_RATE_LIMIT="1 per minute")
    client = app.test_client()
    for expected in (303, 429):
        page = client.get("/manage/lost-link")
        token = csrf_token_from(page.get_data(as_text=True))
        response = client.post("/manage/lost-link", data={"email": "ada@example.org", "csrf_token": token})
        assert response.status_code == expected
