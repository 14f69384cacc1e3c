"""The optional second factor: set up with a code, asked at every login, codes good only once."""
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pyotp
import pytest
import requests
from sqlalchemy import select, update

from portal.admin.models import AdminUser
from portal.extensions import db
from tests.support.admin import ADMIN_EMAIL, PASSWORD, add_account, csrf_of, log_in
from tests.support.web import csrf_token_from, page_text


def _enrol(client) -> str:
    page = client.get("/admin/two-factor").get_data(as_text=True)
    secret = re.search(r'class="admin-secret">([A-Z2-7]+)<', page).group(1)
    token = csrf_of(client, "/admin/two-factor")
    response = client.post("/admin/two-factor", data={"csrf_token": token, "code": pyotp.TOTP(secret).now()})
    assert response.status_code == 303
    return secret


def _next_code(secret: str) -> str:
    """The code of the next 30-second step (accepted for clock drift): setting up used the current one."""
    return pyotp.TOTP(secret).at(time.time() + 30)


def _code_step(client, code):
    token = csrf_of(client, "/admin/login/code")
    return client.post("/admin/login/code", data={"csrf_token": token, "code": code})


def test_after_setup_every_login_asks_for_a_code(app, admin_client):
    secret = _enrol(admin_client)
    client = app.test_client()
    password_step = log_in(client)
    assert password_step.headers["Location"] == "/admin/login/code"
    assert client.get("/admin/").status_code == 302  # not logged in between the two steps
    assert _code_step(client, "000000").status_code == 401
    done = _code_step(client, _next_code(secret))
    assert done.status_code == 303
    assert client.get("/admin/").status_code == 200


def test_a_code_cannot_be_used_twice(app, admin_client):
    secret = _enrol(admin_client)
    code = _next_code(secret)
    first = app.test_client()
    log_in(first)
    assert _code_step(first, code).status_code == 303
    second = app.test_client()
    log_in(second)
    refused = _code_step(second, code)
    assert refused.status_code == 401
    assert "used already" in page_text(refused)


def test_the_setup_needs_a_matching_code(app, admin_client):
    admin_client.get("/admin/two-factor")
    token = csrf_of(admin_client, "/admin/two-factor")
    response = admin_client.post("/admin/two-factor", data={"csrf_token": token, "code": "123456"})
    assert response.status_code == 400
    assert "That code does not match." in page_text(response)
    with app.app_context():
        assert db.session.scalar(select(AdminUser.totp_secret)) is None


def test_when_required_an_account_without_it_must_set_it_up_first(make_app):
    app = make_app(ADMIN_REQUIRE_2FA=True)
    add_account(app)
    client = app.test_client()
    assert log_in(client).status_code == 303
    response = client.get("/admin/attendees")
    assert response.status_code == 302 and response.headers["Location"].endswith("/admin/two-factor")
    _enrol(client)
    assert client.get("/admin/").status_code == 200


def test_the_code_step_expires_with_the_password_step(app, admin_client, monkeypatch):
    _enrol(admin_client)
    client = app.test_client()
    log_in(client)
    import portal.admin.views as views

    monkeypatch.setattr(views, "SECOND_FACTOR_WINDOW", -1)
    response = client.get("/admin/login/code")
    assert response.status_code == 302 and response.headers["Location"].endswith("/admin/login")


def _past_the_password(server_url: str) -> tuple[requests.Session, str]:
    """A browser session that typed the right password and now faces the code step; with its CSRF token."""
    browser = requests.Session()
    token = csrf_token_from(browser.get(server_url + "/admin/login", timeout=30).text)
    response = browser.post(server_url + "/admin/login", allow_redirects=False, timeout=30,
                            data={"email": ADMIN_EMAIL, "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 303 and response.headers["Location"] == "/admin/login/code"
    return browser, csrf_token_from(browser.get(server_url + "/admin/login/code", timeout=30).text)


RACING_SESSIONS = 6
RACES = 5


@pytest.mark.services
def test_sessions_racing_with_one_code_let_exactly_one_in(portal_env, make_app, portal_server):
    """Under SQLite every transaction takes the write lock first, so only PostgreSQL can interleave."""
    portal_env["RATELIMIT_ENABLED"] = "0"
    app = make_app()
    account_id = add_account(app)
    secret = pyotp.random_base32()
    server = portal_server(workers=3, threads=4)
    outcomes = []
    for _ in range(RACES):
        with app.app_context():  # each race a fresh code: no step used yet
            db.session.execute(update(AdminUser).where(AdminUser.id == account_id)
                               .values(totp_secret=secret, totp_last_step=None))
            db.session.commit()
        with ThreadPoolExecutor(max_workers=RACING_SESSIONS) as pool:
            sessions = list(pool.map(lambda _: _past_the_password(server.url), range(RACING_SESSIONS)))
        code = pyotp.TOTP(secret).now()
        start = threading.Barrier(RACING_SESSIONS)

        def post(session_and_token):
            browser, token = session_and_token
            start.wait()
            return browser.post(server.url + "/admin/login/code", data={"csrf_token": token, "code": code},
                                allow_redirects=False, timeout=60).status_code

        with ThreadPoolExecutor(max_workers=RACING_SESSIONS) as pool:
            outcomes.append(sorted(pool.map(post, sessions)))
    assert outcomes == [[303] + [401] * (RACING_SESSIONS - 1)] * RACES, outcomes
