"""The consent log (append-only) and the first-party page-view counter."""
from datetime import datetime

from sqlalchemy import Index, String, event
from sqlalchemy.orm import Mapped, mapped_column

from portal.database import utcnow
from portal.extensions import db


class ConsentEvent(db.Model):
    """One row per accept, reject, custom choice or withdrawal. Never updated or deleted by the app.

    A retention purge removes old rows with a bulk DELETE (see service.purge_consent_log);
    the ORM refuses any other change, so proof cannot be edited after the fact.
    """

    __tablename__ = "consent_event"
    __table_args__ = (Index("ix_consent_event_created_at", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Random id stored in the visitor's consent cookie; ties their choices together, names nobody.
    consent_id: Mapped[str] = mapped_column(String(36), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    policy_version: Mapped[str] = mapped_column(String(32))
    #: Optional categories allowed / refused, as JSON lists of category keys.
    granted: Mapped[list] = mapped_column(db.JSON)
    denied: Mapped[list] = mapped_column(db.JSON)
    #: accept_all, reject_all, custom or withdraw.
    action: Mapped[str] = mapped_column(String(16))
    #: Whether the browser sent a Global Privacy Control signal with the choice.
    gpc: Mapped[bool]
    #: The visitor's preferred language (first Accept-Language tag), e.g. "en-US".
    language: Mapped[str] = mapped_column(String(35))


@event.listens_for(ConsentEvent, "before_update")
@event.listens_for(ConsentEvent, "before_delete")
def _consent_log_is_append_only(mapper, connection, target):
    raise PermissionError("the consent log is append-only")


class PageView(db.Model):
    """One counted page view: no cookie value, no address, nothing that identifies the visitor."""

    __tablename__ = "page_view"
    __table_args__ = (Index("ix_page_view_created_at", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: The page's path, without its query string.
    path: Mapped[str] = mapped_column(String(512))
    #: Only the host of the referring page, e.g. "www.example.org"; None for direct visits.
    referrer_host: Mapped[str | None] = mapped_column(String(255))
    #: First page of a visit (no visit cookie was present yet).
    new_visit: Mapped[bool]
