"""Nothing a visitor can type or tamper with produces a 5xx, on either backend."""
from urllib.parse import quote

import pytest

from portal.extensions import db
from portal.registration.demo import seed_demo_event
from portal.resources.service import seed_resources
from tests.support.web import csrf_token_from

HOSTILE_VALUES = [
    "x" * 5000,
    "\x00",
    "nul\x00byte",
    "../../../etc/passwd",
    "<script>alert(1)</script>",
    "' OR 1=1 --",
    "é漢字🙂",
    "\r\nSet-Cookie: a=b",
    "%ff%fe",
    "-1",
    "99999999999999999999",  # beyond every database integer
]

FORM_FIELDS = [
    "first_name", "last_name", "email", "organization", "job_title", "category", "days",
    "dietary", "accessibility", "privacy", "website",
]


@pytest.fixture
def seeded_summit(make_app):
    app = make_app(RATELIMIT_ENABLED=False)
    with app.app_context():
        seed_resources()
        event, _created = seed_demo_event()
        db.session.commit()
        slug = event.slug
    return app, slug


def assert_no_server_error(response, what):
    assert response.status_code < 500, f"{what} -> {response.status_code}"


def test_hostile_path_segments_and_query_strings_never_cause_a_server_error(seeded_summit):
    app, slug = seeded_summit
    client = app.test_client()
    templates = [
        "/events/{v}", "/events/{v}/register", "/events/{v}/registered", "/events/{v}/privacy",
        "/manage/{v}", "/manage/{v}/cancel", "/dev/mail/{v}", "/dev/mail/{v}/html", "/dev/mail/{v}/raw",
        "/newsletter/archive/{v}",
    ]
    queries = ["/resources?topic={v}", "/resources?kind={v}&topic={v}&topic=regulatory", "/?{v}={v}",
               f"/events/{slug}/registered?outcome={{v}}"]
    for value in HOSTILE_VALUES:
        for template in templates:
            url = template.format(v=quote(value, safe=""))
            assert_no_server_error(client.get(url), url)
        for template in queries:
            url = template.format(v=quote(value, safe=""))
            assert_no_server_error(client.get(url), url)


def test_hostile_form_posts_never_cause_a_server_error_nor_write_anything(seeded_summit):
    from sqlalchemy import func, select

    from portal.registration.models import Registration

    app, slug = seeded_summit
    client = app.test_client()
    register_url = f"/events/{slug}/register"
    token = csrf_token_from(client.get(register_url).get_data(as_text=True))
    for value in HOSTILE_VALUES:
        for field in FORM_FIELDS:
            data = {name: value if name == field else "" for name in FORM_FIELDS}
            data["csrf_token"] = token
            assert_no_server_error(client.post(register_url, data=data), f"register {field}={value[:20]!r}")
        every_field = {name: value for name in FORM_FIELDS} | {"csrf_token": token}
        assert_no_server_error(client.post(register_url, data=every_field), f"register all={value[:20]!r}")
        lost_token = csrf_token_from(client.get("/manage/lost-link").get_data(as_text=True))
        response = client.post("/manage/lost-link", data={"email": value, "csrf_token": lost_token})
        assert_no_server_error(response, f"lost-link {value[:20]!r}")
        for url in (f"/manage/{quote(value, safe='')}", f"/manage/{quote(value, safe='')}/cancel"):
            assert_no_server_error(client.post(url, data={"csrf_token": token, "days": value}), f"POST {url[:40]}")
    # Raw bodies: undecodable bytes, a repeated key, no CSRF token, a huge body.
    for body in (b"first_name=%ff%fe%00&email=a%40b.c", b"days=all&days=day1&days=day2", b"=&&==", b"a=" + b"x" * 2_000_000):
        response = client.post(register_url, data=body, content_type="application/x-www-form-urlencoded")
        assert_no_server_error(response, f"raw body {body[:30]!r}")
    with app.app_context():
        assert db.session.scalar(select(func.count(Registration.id))) == 0
