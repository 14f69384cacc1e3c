"""A visitor's request waiting for its task."""
from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from portal.database import utcnow
from portal.extensions import db


class DeferredRequest(db.Model):
    """Written by the request, deleted by the task in the transaction that acts on it."""

    __tablename__ = "deferred_request"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Which handler decides it, e.g. "newsletter.signup", "registration.lost_link".
    kind: Mapped[str] = mapped_column(String(64))
    #: The address the visitor typed, and its portal.mail.validation.address_key.
    email: Mapped[str] = mapped_column(String(320))
    email_key: Mapped[str] = mapped_column(String(320), index=True)
    #: Whatever else the handler needs (JSON): choices made on the form, the link base in development.
    payload: Mapped[dict] = mapped_column(db.JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
