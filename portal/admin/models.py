"""Administrators and staff: accounts, server-side login sessions, and the audit log."""
import enum
from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.database import utcnow
from portal.extensions import db

_hasher = PasswordHasher()


class Role(str, enum.Enum):
    #: Everything: exports, settings, accounts.
    ADMIN = "admin"
    #: Attendee lists and check-in; no exports, no settings.
    STAFF = "staff"


class AdminUser(db.Model):
    __tablename__ = "admin_user"
    __table_args__ = (CheckConstraint("role IN ('admin', 'staff')", name="role_known"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Login name; unique regardless of case.
    email: Mapped[str] = mapped_column(String(320))
    #: argon2id hash (argon2-cffi's PHC string); never the password itself.
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16), default=Role.ADMIN.value, server_default=Role.ADMIN.value)
    #: A disabled account cannot log in and its sessions end at their next request.
    disabled_at: Mapped[datetime | None]
    #: Base32 TOTP secret once the second factor is set up (portal.admin.totp); None: password only.
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    #: The 30-second step of the last code accepted: a code is good once, never replayed.
    totp_last_step: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None]

    #: The session this request runs under (set by portal.admin.auth; not a column).
    current_session = None

    # Flask-Login's user protocol. get_id is the session's token, not the account id, so
    # that logging out (or an idle timeout) ends exactly that session on the server.
    is_authenticated = True
    is_anonymous = False

    @property
    def is_active(self) -> bool:
        return self.disabled_at is None

    def get_id(self) -> str | None:
        return self.current_session.token if self.current_session else None

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN.value

    def set_password(self, password: str) -> None:
        self.password_hash = _hasher.hash(password)

    def check_password(self, password: str) -> bool:
        try:
            return _hasher.verify(self.password_hash, password)
        except (VerificationError, InvalidHashError):
            return False


Index("uq_admin_user_email_lower", func.lower(AdminUser.email), unique=True)


def burn_password_check(password: str) -> None:
    """Verify against a throwaway hash: an unknown address costs what a wrong password costs."""
    global _DUMMY_HASH
    if _DUMMY_HASH is None:
        _DUMMY_HASH = _hasher.hash("not a password anyone has")
    try:
        _hasher.verify(_DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        pass


_DUMMY_HASH: str | None = None


class AdminSession(db.Model):
    """One login: the browser's signed session cookie carries only `token`.

    Kept on the server so that logout, an idle timeout or disabling the account
    ends it for good (a copied cookie stops working), whatever web process serves it.
    """

    __tablename__ = "admin_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Random, URL-safe; a new one at every login (the old cookie is then worthless).
    token: Mapped[str] = mapped_column(String(64), unique=True)
    admin_id: Mapped[int] = mapped_column(ForeignKey("admin_user.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: Updated at most once a minute; the idle timeout counts from here.
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: Set at logout or idle expiry; an ended session never comes back.
    ended_at: Mapped[datetime | None]

    admin: Mapped[AdminUser] = relationship()


class AuditEvent(db.Model):
    """What an admin or staff member did: logins, exports, edits, cancellations, check-ins.

    Append-only. The actor's address is copied so the row still reads after the account is gone.
    """

    __tablename__ = "audit_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    admin_id: Mapped[int | None] = mapped_column(ForeignKey("admin_user.id", ondelete="SET NULL"))
    actor_email: Mapped[str] = mapped_column(String(320))
    #: e.g. "login", "login_failed", "export", "cancel", "check_in", "edit", "promote".
    action: Mapped[str] = mapped_column(String(32))
    #: What it was done to, for people: "registration K7QX2M9P", "attendees.csv".
    target: Mapped[str] = mapped_column(String(200), default="")
    #: Filters, columns, row counts, changed fields: whatever makes the row answer "what exactly?".
    detail: Mapped[dict] = mapped_column(db.JSON, default=dict)


class ExportPreset(db.Model):
    """A named choice of export columns, e.g. "Badge printer": only the fields that recipient needs."""

    __tablename__ = "export_preset"
    __table_args__ = (UniqueConstraint("kind", "name", name="uq_export_preset_kind_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Which export it applies to: "attendees" (the only one with a column choice today).
    kind: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(80))
    #: Column keys in export order (see portal.admin.exports).
    columns: Mapped[list] = mapped_column(db.JSON)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("admin_user.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
