"""Administrator accounts."""
import secrets

from sqlalchemy import func, select

from portal.admin.models import AdminUser
from portal.extensions import db

DEMO_ADMIN_EMAIL = "admin@portal.localhost"


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
