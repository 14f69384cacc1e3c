"""Administrator accounts."""
import secrets

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import func, select

from portal.admin.models import AdminUser, Role
from portal.extensions import db

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
