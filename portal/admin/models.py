from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Index, String, func
from sqlalchemy.orm import Mapped, mapped_column

from portal.database import utcnow
from portal.extensions import db

_hasher = PasswordHasher()


class AdminUser(db.Model):
    __tablename__ = "admin_user"
    id: Mapped[int] = mapped_column(primary_key=True)
    #: Login name; unique regardless of case.
    email: Mapped[str] = mapped_column(String(320))
    #: argon2id hash (argon2-cffi's PHC string); never the password itself.
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None]

    def set_password(self, password: str) -> None:
        self.password_hash = _hasher.hash(password)

    def check_password(self, password: str) -> bool:
        try:
            return _hasher.verify(self.password_hash, password)
        except (VerificationError, InvalidHashError):
            return False


Index("uq_admin_user_email_lower", func.lower(AdminUser.email), unique=True)
