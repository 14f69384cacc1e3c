"""Accounts: invitations with a single-use set-password link, roles, disabling; the last admin stays."""
import re

from sqlalchemy import select

from portal.admin.models import AdminSession, AdminUser
from portal.extensions import db
from portal.mail.models import OutgoingEmail
from tests.support.admin import ADMIN_EMAIL, STAFF_EMAIL, csrf_of, log_in
from tests.pages.structure import parse
from tests.support.web import page_text

NEW_PASSWORD = "a long and fresh passphrase"


def _invite(client, email=STAFF_EMAIL, role="staff"):
    token = csrf_of(client, "/admin/accounts")
    return client.post("/admin/accounts", data={"csrf_token": token, "email": email, "role": role})


def _set_password_path(app, email) -> str:
    with app.app_context():
        body = db.session.scalar(select(OutgoingEmail.body_text).where(OutgoingEmail.to_address == email))
    return re.search(r"https?://[^/\s]+(/admin/set-password/\S+)", body).group(1)


def test_an_invited_person_sets_a_password_once_and_logs_in(app, admin_client):
    assert _invite(admin_client).status_code == 303
    path = _set_password_path(app, STAFF_EMAIL)
    assert log_in(app.test_client(), STAFF_EMAIL, NEW_PASSWORD).status_code == 401
    newcomer = app.test_client()
    token = csrf_of(newcomer, path)
    mismatch = newcomer.post(path, data={"csrf_token": token, "password": NEW_PASSWORD, "confirm": "something else"})
    assert mismatch.status_code == 400 and "The two passwords differ." in page_text(mismatch)
    done = newcomer.post(path, data={"csrf_token": token, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert done.status_code == 303
    assert log_in(app.test_client(), STAFF_EMAIL, NEW_PASSWORD).status_code == 303
    assert newcomer.get(path).status_code == 410


def test_a_tampered_set_password_link_is_refused(app, admin_client):
    _invite(admin_client)
    path = _set_password_path(app, STAFF_EMAIL)
    assert app.test_client().get(path[:-3] + "xyz").status_code == 410


def test_an_existing_address_cannot_be_invited_twice(app, admin_client):
    response = _invite(admin_client, ADMIN_EMAIL.upper(), "admin")
    assert response.status_code == 400
    assert "exists already" in page_text(response)


def test_disabling_an_account_ends_its_sessions(app, admin_client):
    from tests.support.admin import add_account

    staff_id = add_account(app, STAFF_EMAIL, role="staff")
    staff = app.test_client()
    log_in(staff, STAFF_EMAIL)
    assert staff.get("/admin/").status_code == 200
    token = csrf_of(admin_client, "/admin/accounts")
    admin_client.post(f"/admin/accounts/{staff_id}", data={"csrf_token": token, "action": "disable"})
    assert staff.get("/admin/").status_code == 302
    with app.app_context():
        assert db.session.scalar(select(AdminSession.ended_at).where(AdminSession.admin_id == staff_id)) is not None


def test_the_last_admin_can_be_neither_demoted_nor_disabled(app, admin_client):
    with app.app_context():
        admin_id = db.session.scalar(select(AdminUser.id))
    for data in ({"action": "role", "role": "staff"}, {"action": "disable"}):
        token = csrf_of(admin_client, "/admin/accounts")
        response = admin_client.post(f"/admin/accounts/{admin_id}", data={"csrf_token": token, **data},
                                     follow_redirects=True)
        assert "At least one active admin account must remain." in page_text(response)
    with app.app_context():
        account = db.session.get(AdminUser, admin_id)
        assert account.role == "admin" and account.disabled_at is None


def test_a_role_change_takes_effect_at_the_next_request(app, admin_client):
    from tests.support.admin import add_account

    staff_id = add_account(app, STAFF_EMAIL, role="staff")
    staff = app.test_client()
    log_in(staff, STAFF_EMAIL)
    assert staff.get("/admin/audit").status_code == 403
    token = csrf_of(admin_client, "/admin/accounts")
    admin_client.post(f"/admin/accounts/{staff_id}", data={"csrf_token": token, "action": "role", "role": "admin"})
    assert staff.get("/admin/audit").status_code == 200


def test_staff_cannot_manage_accounts(app, staff_client):
    assert staff_client.get("/admin/accounts").status_code == 403


def test_the_accounts_page_ids_are_unique_so_each_label_focuses_its_own_control(admin_client):
    ids = parse(admin_client.get("/admin/accounts").get_data(as_text=True)).ids()
    assert len(ids) == len(set(ids))
