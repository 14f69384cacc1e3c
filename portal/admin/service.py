"""Administrator accounts."""
import secrets

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import func, select, update

from portal.admin.models import AdminSession, AdminUser, Role
from portal.database import utcnow
from portal.extensions import db
from portal.admin import emails
from portal.admin.tokens import SET_PASSWORD_PURPOSE, password_fingerprint, read_set_password_token
from portal.tokens import TokenInvalid

DEMO_ADMIN_EMAIL = "admin@portal.localhost"
MIN_PASSWORD_LENGTH = 12


class AdminAccountError(Exception):
    """The account cannot be created as asked; the message says why."""


def find_admin(email: str) -> AdminUser | None:
    return db.session.scalar(select(AdminUser).where(func.lower(AdminUser.email) == email.strip().lower()))


def ensure_demo_admin() -> tuple[AdminUser, str | None]:
    """Create the demo admin once; returns the new password only when it was just created."""
    if db.session.scalar(select(func.count(AdminUser.id))):
        return db.session.scalar(select(AdminUser).order_by(AdminUser.id)), None
    password = secrets.token_urlsafe(12)
    admin = AdminUser(email=DEMO_ADMIN_EMAIL)
    admin.set_password(password)
    db.session.add(admin)
    return admin, password


def create_admin(email: str, password: str, role: str = Role.ADMIN.value) -> AdminUser:
    """A new admin or staff account with an argon2id password hash; the caller commits."""
    if role not in {r.value for r in Role}:
        raise AdminAccountError(f"the role must be one of: {', '.join(r.value for r in Role)}")
    try:
        email = validate_email(email.strip(), check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise AdminAccountError(f"not a valid email address: {exc}") from None
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AdminAccountError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    if find_admin(email) is not None:
        raise AdminAccountError(f"an admin account for {email} exists already")
    admin = AdminUser(email=email, role=role)
    admin.set_password(password)
    db.session.add(admin)
    db.session.flush()
    return admin


# --- Managing accounts from the admin pages -----------------------------------------------

class LastAdminError(AdminAccountError):
    """The change would leave no active admin account."""


def list_accounts() -> list[AdminUser]:
    return list(db.session.scalars(select(AdminUser).order_by(func.lower(AdminUser.email))))


def invite_account(email: str, role: str) -> AdminUser:
    """A new account that has no usable password until its owner follows the emailed link."""
    account = create_admin(email, secrets.token_urlsafe(32), role=role)
    emails.send_invitation(account, to=account.email)
    return account


def account_from_set_password_token(token: str) -> AdminUser:
    """The account a set-password link is for; raises TokenError when it is forged, old or used."""
    account_id, fingerprint = read_set_password_token(token)
    account = db.session.get(AdminUser, account_id)
    if account is None or password_fingerprint(account) != fingerprint or not account.is_active:
        raise TokenInvalid(SET_PASSWORD_PURPOSE)
    return account


def set_password(account: AdminUser, password: str) -> None:
    """New password; every session of the account ends (anyone holding one must log in again)."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AdminAccountError(f"The password must have at least {MIN_PASSWORD_LENGTH} characters.")
    account.set_password(password)
    _end_sessions(account)


def change_role(account: AdminUser, role: str) -> None:
    if role not in {r.value for r in Role}:
        raise AdminAccountError(f"the role must be one of: {', '.join(r.value for r in Role)}")
    if account.role == Role.ADMIN.value and role != Role.ADMIN.value:
        _keep_an_admin(account)
    account.role = role


def set_disabled(account: AdminUser, disabled: bool) -> None:
    if disabled:
        if account.is_admin:
            _keep_an_admin(account)
        account.disabled_at = account.disabled_at or utcnow()
        _end_sessions(account)
    else:
        account.disabled_at = None


def _keep_an_admin(leaving: AdminUser) -> None:
    others = db.session.scalar(
        select(func.count()).where(AdminUser.role == Role.ADMIN.value, AdminUser.disabled_at.is_(None),
                                   AdminUser.id != leaving.id)
    )
    if not others:
        raise LastAdminError("At least one active admin account must remain.")


def _end_sessions(account: AdminUser) -> None:
    db.session.execute(
        update(AdminSession).where(AdminSession.admin_id == account.id, AdminSession.ended_at.is_(None))
        .values(ended_at=utcnow())
    )
