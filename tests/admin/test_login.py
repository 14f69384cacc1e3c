"""Admin login: one answer for every failure, rate limits, session rotation, roles, logout, idle timeout."""
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from portal.admin.models import AdminSession, AdminUser, AuditEvent
from portal.database import utcnow
from portal.extensions import db
from tests.pages.structure import parse
from tests.support.admin import ADMIN_EMAIL, PASSWORD, STAFF_EMAIL, add_account, csrf_of, log_in
from tests.support.web import page_text


def test_wrong_password_and_unknown_email_get_the_same_answer(app, client):
    add_account(app)
    wrong_password = log_in(client, ADMIN_EMAIL, "not the password at all")
    unknown_email = log_in(client, "nobody@example.org", PASSWORD)
    assert wrong_password.status_code == unknown_email.status_code == 401
    assert page_text(wrong_password) == page_text(unknown_email)
    assert "do not match an active account" in page_text(wrong_password)


def test_the_sixth_attempt_within_fifteen_minutes_is_refused(app, client):
    add_account(app)
    statuses = [log_in(client, ADMIN_EMAIL, f"wrong guess {n}").status_code for n in range(5)]
    assert statuses == [401] * 5
    sixth = log_in(client, ADMIN_EMAIL, PASSWORD)
    assert sixth.status_code == 429
    assert sixth.headers.get("Retry-After")


def test_attempts_are_limited_per_account_across_addresses(app):
    add_account(app)
    for n in range(5):
        response = log_in(app.test_client(), ADMIN_EMAIL, f"wrong {n}", remote_addr=f"198.51.100.{n}")
        assert response.status_code == 401
    refused = log_in(app.test_client(), ADMIN_EMAIL.upper(), PASSWORD, remote_addr="203.0.113.9")
    assert refused.status_code == 429


def test_attempts_are_limited_per_address_across_accounts(app):
    add_account(app)
    for n in range(5):
        assert log_in(app.test_client(), f"guess{n}@example.org", PASSWORD).status_code == 401
    assert log_in(app.test_client(), ADMIN_EMAIL, PASSWORD).status_code == 429


def test_a_session_cookie_from_before_login_is_not_logged_in_afterwards(app, client):
    add_account(app)
    client.get("/admin/login")
    planted = client.get_cookie("session").value
    assert log_in(client).status_code == 303
    assert client.get_cookie("session").value != planted
    attacker = app.test_client()
    attacker.set_cookie("session", planted)
    assert attacker.get("/admin/").status_code == 302


def test_each_login_gets_a_new_server_session(app):
    add_account(app)
    first, second = app.test_client(), app.test_client()
    log_in(first)
    log_in(second)
    with app.app_context():
        tokens = db.session.scalars(select(AdminSession.token)).all()
    assert len(set(tokens)) == 2


def test_anonymous_visitors_are_sent_to_the_login_page(client):
    for path in ("/admin/", "/admin/attendees", "/admin/check-in", "/admin/audit"):
        response = client.get(path)
        assert response.status_code == 302 and "/admin/login" in response.headers["Location"], path
    export = client.post("/admin/exports/subscribers", data={})
    assert export.status_code in (302, 400)


def test_login_returns_to_the_page_asked_for_but_never_off_site(app, client):
    add_account(app)
    assert log_in(client, next_path="/admin/audit").headers["Location"] == "/admin/audit"
    other = app.test_client()
    assert log_in(other, next_path="https://evil.example/admin").headers["Location"] == "/admin/"


@pytest.mark.parametrize("target", ["/%09/evil.example/admin", "/%5Cevil.example/admin", "%20//evil.example/admin",
                                    "/admin/../evil", "/admin/%2e%2e/evil", "/administrator"])
def test_login_never_follows_a_way_back_a_browser_would_read_as_off_site_or_outside_admin(app, client, target):
    add_account(app)
    assert log_in(client, next_path=target).headers["Location"] == "/admin/"


def test_logout_ends_the_session_on_the_server(app, admin_client):
    cookie = admin_client.get_cookie("session").value
    token = csrf_of(admin_client, "/admin/")
    assert admin_client.post("/admin/logout", data={"csrf_token": token}).status_code == 303
    replay = app.test_client()
    replay.set_cookie("session", cookie)
    assert replay.get("/admin/").status_code == 302
    with app.app_context():
        assert db.session.scalar(select(AdminSession.ended_at)) is not None


def test_an_idle_session_ends(app, admin_client):
    assert admin_client.get("/admin/").status_code == 200
    with app.app_context():
        idle = timedelta(minutes=app.config["ADMIN_IDLE_MINUTES"] + 1)
        db.session.execute(update(AdminSession).values(last_seen_at=utcnow() - idle))
        db.session.commit()
    assert admin_client.get("/admin/").status_code == 302


def test_a_disabled_account_is_logged_out_and_cannot_log_in(app, admin_client):
    with app.app_context():
        db.session.execute(update(AdminUser).values(disabled_at=utcnow()))
        db.session.commit()
    assert admin_client.get("/admin/").status_code == 302
    assert log_in(app.test_client()).status_code == 401


def test_staff_get_403_and_no_data_from_admin_pages_and_exports(app, staff_client):
    assert staff_client.get("/admin/").status_code == 200
    for path in ("/admin/audit", "/admin/exports", "/admin/event"):
        response = staff_client.get(path)
        assert response.status_code == 403, path
    token = csrf_of(staff_client, "/admin/")
    for path in ("/admin/exports/subscribers", "/admin/exports/consent-log", "/admin/exports/attendees"):
        response = staff_client.post(path, data={"csrf_token": token, "file_format": "csv"})
        assert response.status_code == 403, path
        assert "text/csv" not in response.content_type


def test_logins_and_failures_are_in_the_audit_log(app, client):
    add_account(app)
    log_in(client, ADMIN_EMAIL, "wrong password here")
    log_in(client)
    with app.app_context():
        actions = db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)).all()
    assert actions == ["login_failed", "login"]


def test_create_admin_takes_a_role(app):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["create-admin", STAFF_EMAIL, "--role", "staff", "--password-stdin"],
                           input=PASSWORD + "\n")
    assert result.exit_code == 0, result.output
    assert "Staff account created" in result.output


def test_login_fields_tell_password_managers_what_they_hold(client):
    document = parse(client.get("/admin/login").get_data(as_text=True))
    assert document.by_id("email").attrs["autocomplete"] == "username"
    assert document.by_id("password").attrs["autocomplete"] == "current-password"
