"""Admin helpers for tests: accounts and logging in through the real form."""
from portal.admin.service import create_admin
from portal.extensions import db
from tests.support.web import csrf_token_from

ADMIN_EMAIL = "organiser@example.org"
STAFF_EMAIL = "door@example.org"
PASSWORD = "correct horse battery staple"


def add_account(app, email: str = ADMIN_EMAIL, role: str = "admin", password: str = PASSWORD) -> int:
    with app.app_context():
        account = create_admin(email, password, role=role)
        db.session.commit()
        return account.id


def log_in(client, email: str = ADMIN_EMAIL, password: str = PASSWORD, next_path: str | None = None,
           remote_addr: str = "127.0.0.1"):
    """Post the login form like a browser (GET for the CSRF token, then POST) from `remote_addr`."""
    environ = {"REMOTE_ADDR": remote_addr}
    page = client.get("/admin/login", environ_base=environ)
    token = csrf_token_from(page.get_data(as_text=True))
    url = "/admin/login" + (f"?next={next_path}" if next_path else "")
    return client.post(url, data={"email": email, "password": password, "csrf_token": token}, environ_base=environ)


def logged_in_client(app, email: str = ADMIN_EMAIL, role: str = "admin"):
    """A test client of a new account with this role, logged in."""
    add_account(app, email, role=role)
    client = app.test_client()
    assert log_in(client, email).status_code == 303
    return client


def csrf_of(client, path: str) -> str:
    page = client.get(path)
    assert page.status_code == 200, (path, page.status_code)
    return csrf_token_from(page.get_data(as_text=True))
