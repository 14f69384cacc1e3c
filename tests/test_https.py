"""Every form over HTTPS in Chromium, as production serves it: gunicorn with its own certificate
("direct") and nginx with deploy/'s configuration in front of it ("proxy", TRUSTED_PROXIES=1).

Over HTTPS Flask-WTF also checks that a POST's Referer is the portal itself, so these journeys
fail whenever a page's Referrer-Policy keeps the browser from sending one.
"""
import csv
import io
import re
from pathlib import Path

import pyotp
import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from portal.admin.models import AdminUser
from portal.extensions import db
from portal.newsletter.models import Subscriber
from portal.newsletter.tokens import CONFIRM, PREFERENCES
from portal.registration.tokens import make_manage_token
from tests.support.admin import ADMIN_EMAIL, PASSWORD, add_account
from tests.support.newsletter import decide_requests, signup, subscriber_state, token_for
from tests.support.registration import add_registration, new_event, registrations

MODES = pytest.mark.parametrize("mode", ["direct", "proxy"])
HSTS = "max-age=63072000; includeSubDomains"


def assert_production_cookies_and_headers(page, response) -> None:
    """The session cookie is Secure and __Host- prefixed, and HSTS is sent, as in production."""
    assert response.headers.get("strict-transport-security") == HSTS
    cookies = {cookie["name"]: cookie for cookie in page.context.cookies()}
    session = cookies["__Host-session"]
    assert session["secure"] and session["path"] == "/" and session["httpOnly"]
    assert "session" not in cookies
    assert page.watch.console_errors == []
    assert page.watch.external_requests == []


def log_in(page, url: str) -> None:
    page.goto(url + "/admin/login")
    page.get_by_label("Email").fill(ADMIN_EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()


@pytest.mark.browser
@MODES
def test_an_organiser_logs_in_exports_and_checks_someone_in_over_https(mode, make_app, https_portal, https_page):
    app = make_app()
    add_account(app)
    slug = new_event(app)
    grace = add_registration(app, slug, email="grace@example.org", first_name="Grace", last_name="Hopper")
    server = https_portal(mode)
    page = https_page

    log_in(page, server.url)
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()

    page.goto(f"{server.url}/admin/attendees?event={slug}")
    with page.expect_download() as download_info:
        page.get_by_role("button", name="Download").click()
    rows = list(csv.DictReader(io.StringIO(Path(download_info.value.path()).read_text(encoding="utf-8"))))
    assert [row["Email"] for row in rows] == ["grace@example.org"]

    page.get_by_role("link", name="Check-in").click()
    page.get_by_label("Check-in code").fill(grace.code)
    response_info = page.expect_response(lambda r: r.request.method == "POST")
    with response_info as posted:
        page.get_by_role("button", name="Check in", exact=True).click()
    expect(page.get_by_role("alert")).to_contain_text("Checked in: Grace Hopper")
    assert_production_cookies_and_headers(page, posted.value)


@pytest.mark.browser
@MODES
def test_an_organiser_with_a_second_factor_logs_in_over_https(mode, make_app, https_portal, https_page):
    app = make_app()
    add_account(app)
    secret = pyotp.random_base32()
    with app.app_context():
        db.session.scalar(select(AdminUser)).totp_secret = secret
        db.session.commit()
    server = https_portal(mode)
    page = https_page

    log_in(page, server.url)
    expect(page.get_by_role("heading", name="Your code")).to_be_visible()
    page.get_by_label("Code").fill(pyotp.TOTP(secret).now())
    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    assert posted.value.status == 303
    assert_production_cookies_and_headers(page, posted.value)


@pytest.mark.browser
@MODES
def test_a_subscriber_confirms_saves_preferences_and_erases_their_data_over_https(
    mode, make_app, https_portal, https_page
):
    app = make_app()
    signup(app.test_client(), email="rosalind@example.org")
    decide_requests(app)
    subscriber_id = subscriber_state(app, "rosalind@example.org")["id"]
    server = https_portal(mode)
    page = https_page

    page.goto(f"{server.url}/newsletter/confirm/{token_for(app, CONFIRM, subscriber_id)}")
    page.get_by_role("button", name="Confirm subscription").click()
    expect(page.get_by_role("heading", name="Your newsletter preferences")).to_be_visible()
    assert subscriber_state(app, "rosalind@example.org")["status"] == "confirmed"

    page.get_by_label(re.compile(r"^Weekly")).check()
    page.get_by_role("button", name="Save preferences").click()
    expect(page.get_by_text("Your preferences are saved.")).to_be_visible()
    assert subscriber_state(app, "rosalind@example.org")["frequency"] == "weekly"

    page.goto(f"{server.url}/newsletter/preferences/{token_for(app, PREFERENCES, subscriber_id)}/erase")
    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        page.get_by_role("button", name="Erase my data").click()
    expect(page.get_by_role("heading", name="Your data is erased")).to_be_visible()
    with app.app_context():
        assert db.session.scalar(select(Subscriber.email).where(Subscriber.id == subscriber_id)) != "rosalind@example.org"
    assert posted.value.headers.get("strict-transport-security") == HSTS


@pytest.mark.browser
@MODES
def test_an_attendee_changes_a_day_and_cancels_over_https(mode, make_app, https_portal, https_page):
    app = make_app()
    slug = new_event(app)
    registration = add_registration(app, slug, email="ada@example.org", days="all")
    server = https_portal(mode)
    page = https_page
    with app.app_context():
        token = make_manage_token(registration.code, registration.token_version)

    page.goto(f"{server.url}/manage/{token}")
    page.get_by_label(re.compile(r"^Day 1 only")).check()
    page.get_by_role("button", name="Save changes").click()
    expect(page.get_by_text("Your registration is updated")).to_be_visible()

    page.get_by_role("link", name="Cancel my registration").click()
    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        page.get_by_role("button", name="Yes, cancel my registration").click()
    expect(page.get_by_text("Your registration is cancelled.")).to_be_visible()
    assert [r.status for r in registrations(app, slug)] == ["cancelled"]
    assert posted.value.headers.get("strict-transport-security") == HSTS
    assert page.watch.console_errors == []
    if mode == "proxy":
        logged = server.access_log.read_text()
        assert "/manage/[token]/cancel" in logged and token not in logged


@pytest.mark.browser
@MODES
def test_a_visitor_saves_a_cookie_choice_over_https(mode, make_app, https_portal, https_page):
    make_app()
    server = https_portal(mode)
    page = https_page

    page.goto(server.url + "/resources")
    page.get_by_text("Choose", exact=True).click()
    page.get_by_role("switch", name="Analytics").check()
    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        page.get_by_role("button", name="Save my choices").click()
    expect(page.get_by_role("region", name="Cookies on Summit Portal")).to_be_hidden()
    page.reload()
    expect(page.get_by_role("region", name="Cookies on Summit Portal")).to_be_hidden()
    consent = [c for c in page.context.cookies() if "consent" in c["name"]]
    assert consent and all(c["secure"] for c in consent)
    assert posted.value.status in (200, 303)
    assert page.watch.console_errors == []


def test_the_proxy_redirects_plain_http_to_the_portal_address(make_app, https_portal):
    import requests

    make_app()
    proxy = https_portal("proxy")
    response = requests.get(proxy.http_url + "/resources?topic=policy", allow_redirects=False, timeout=10)
    assert response.status_code == 301
    assert response.headers["Location"] == proxy.url + "/resources?topic=policy"


def test_the_proxy_compresses_html(make_app, https_portal, tls_certificate):
    import requests

    make_app()
    proxy = https_portal("proxy")
    response = requests.get(proxy.url + "/resources", headers={"Accept-Encoding": "gzip"}, timeout=10,
                            verify=str(tls_certificate.cert))
    assert response.status_code == 200
    assert response.headers["Content-Encoding"] == "gzip"
    assert "<h1" in response.text


def test_behind_the_proxy_the_portal_knows_the_request_came_over_https(make_app, https_portal, tls_certificate):
    """Only a request the portal sees as secure gets the Referer check, so a foreign Referer shows it."""
    import requests

    make_app()
    proxy = https_portal("proxy")
    browser, trust = requests.Session(), str(tls_certificate.cert)
    form = browser.get(proxy.url + "/newsletter/", verify=trust, timeout=10).text
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', form).group(1)
    response = browser.post(proxy.url + "/newsletter/", data={"csrf_token": token, "email": "a@example.org"},
                            headers={"Referer": "https://evil.example/newsletter/"}, verify=trust, timeout=10)
    assert response.status_code == 400
    assert "This form came from another site" in response.text


def test_the_proxy_refuses_a_body_larger_than_the_portal_takes(make_app, https_portal, tls_certificate):
    import requests

    make_app()
    proxy = https_portal("proxy")
    response = requests.post(proxy.url + "/newsletter/", data=b"x" * (2 * 1024 * 1024), timeout=30,
                             headers={"Content-Type": "application/x-www-form-urlencoded"},
                             verify=str(tls_certificate.cert))
    assert response.status_code == 413
