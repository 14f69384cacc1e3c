"""Admin login: argon2id passwords, server-side sessions, idle timeout, roles.

The browser's signed session cookie holds Flask-Login's user id, which here is
an `AdminSession.token`, never the account id: a fresh token at every login
(so a session planted before login is worthless), and logout, the idle timeout
or disabling the account end the session in the database for every process.
"""
import secrets
from datetime import timedelta
from functools import wraps

from flask import abort, current_app
from flask_login import current_user
from sqlalchemy import select

from portal.admin.audit import record_action
from portal.admin.models import AdminSession, AdminUser, burn_password_check
from portal.admin.service import find_admin
from portal.database import utcnow
from portal.extensions import db, login_manager

#: last_seen_at is written at most this often, not on every request.
SEEN_RESOLUTION = timedelta(minutes=1)


class LoginRefused(Exception):
    """Wrong address, wrong password or disabled account: deliberately one error for all three."""


def init_app(app) -> None:
    login_manager.init_app(app)
    login_manager.login_view = "admin.login"
    login_manager.login_message = "Please log in to continue."
    login_manager.login_message_category = "info"
    # Our own sessions already end on logout and idle; no remember-me cookie exists.
    login_manager.session_protection = None
    login_manager.user_loader(load_session_admin)


def check_password(email: str, password: str, client_address: str | None) -> AdminUser:
    """The account these credentials open, or LoginRefused (the failure is audited; the caller commits).

    An unknown address costs a full argon2 verification too, so neither the answer
    nor its timing tells whether the account exists.
    """
    admin = find_admin(email)
    if admin is None:
        burn_password_check(password)
        record_action(None, "login_failed", target=email.strip()[:200], detail={"ip": client_address})
        raise LoginRefused
    if not admin.check_password(password) or not admin.is_active:
        record_action(admin, "login_failed", detail={"ip": client_address})
        raise LoginRefused
    return admin


def open_session(admin: AdminUser, client_address: str | None) -> AdminSession:
    """A new server-side session for an account that passed every factor; the caller commits."""
    now = utcnow()
    admin.last_login_at = now
    login = AdminSession(token=secrets.token_urlsafe(32), admin=admin, created_at=now, last_seen_at=now)
    db.session.add(login)
    admin.current_session = login
    record_action(admin, "login", detail={"ip": client_address, "second_factor": admin.totp_secret is not None})
    db.session.flush()
    return login


def end_session(login: AdminSession) -> None:
    if login.ended_at is None:
        login.ended_at = utcnow()


def load_session_admin(token: str) -> AdminUser | None:
    """Flask-Login's loader: the account behind a live session, or None (then: log in again)."""
    login = db.session.scalar(select(AdminSession).where(AdminSession.token == token))
    if login is None or login.ended_at is not None:
        return None
    now = utcnow()
    idle_limit = timedelta(minutes=current_app.config["ADMIN_IDLE_MINUTES"])
    if now - login.last_seen_at > idle_limit or not login.admin.is_active:
        end_session(login)
        db.session.commit()
        return None
    if now - login.last_seen_at > SEEN_RESOLUTION:
        login.last_seen_at = now
        db.session.commit()
    admin = login.admin
    admin.current_session = login
    return admin


def admin_only(view):
    """For exports, settings and accounts: staff get 403 and see no data."""

    @wraps(view)
    def wrapped(*args, **kwargs):
        if not current_user.is_authenticated:
            return login_manager.unauthorized()
        if not current_user.is_admin:
            abort(403)
        return view(*args, **kwargs)

    return wrapped
