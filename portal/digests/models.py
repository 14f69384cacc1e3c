"""Digest editions, and who got which digest with which highlights."""
import enum
from datetime import date, datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from portal.database import utcnow
from portal.extensions import db


class EditionStatus(str, enum.Enum):
    COMPOSING = "composing"  # subscribers are being worked through, batch by batch
    SENDING = "sending"  # every digest is in the outbox; some are not delivered yet
    DONE = "done"  # nothing left in the outbox for this edition


class DigestEdition(db.Model):
    """One weekly or monthly mailing: the period it covers, how far it got, and what it counted."""

    __tablename__ = "digest_edition"
    __table_args__ = (
        UniqueConstraint("frequency", "period_start"),
        CheckConstraint("frequency IN ('weekly', 'monthly')", name="frequency_known"),
        CheckConstraint("status IN ('composing', 'sending', 'done')", name="status_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Who it is for: subscribers who chose this frequency.
    frequency: Mapped[str] = mapped_column(String(16))
    #: First day of the week (a Monday) or month it covers; unique per frequency, so
    #: a second start of the same period finds this edition instead of mailing again.
    period_start: Mapped[date]
    status: Mapped[str] = mapped_column(String(16), default=EditionStatus.COMPOSING.value)
    #: The checkpoint: every subscriber with an id up to this one has been decided
    #: (a digest queued, or skipped). A crashed run resumes after it.
    last_subscriber_id: Mapped[int] = mapped_column(default=0)
    #: Digests written to the outbox.
    planned: Mapped[int] = mapped_column(default=0)
    #: Subscribers with nothing new to read this time.
    skipped: Mapped[int] = mapped_column(default=0)
    #: Outbox outcomes of the planned digests, refreshed while the edition is sending.
    sent: Mapped[int] = mapped_column(default=0)
    failed: Mapped[int] = mapped_column(default=0)
    #: Stopped at send time: meanwhile the subscriber unsubscribed or erased their data, or the address bounced.
    withheld: Mapped[int] = mapped_column(default=0)
    #: Every resource any digest of the edition carried, for the public archive.
    resource_ids: Mapped[list] = mapped_column(db.JSON, default=list)
    #: The event the "upcoming event" block announced, if any.
    event_id: Mapped[int | None] = mapped_column(ForeignKey("event.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: When the last batch was composed; a composing edition that stops moving is resumed.
    progressed_at: Mapped[datetime] = mapped_column(default=utcnow)
    composed_at: Mapped[datetime | None]
    done_at: Mapped[datetime | None]

    @property
    def title(self) -> str:
        """E.g. "Weekly digest, week of 23 November 2026" or "Monthly digest, November 2026"."""
        start = self.period_start
        if self.frequency == "weekly":
            return f"Weekly digest, week of {start.day} {start:%B %Y}"
        return f"Monthly digest, {start:%B %Y}"

    @property
    def is_public(self) -> bool:
        """Shown in the archive once it went to somebody."""
        return self.status != EditionStatus.COMPOSING.value and self.planned > 0


class DigestDelivery(db.Model):
    """One subscriber's digest of one edition: the guard against sending anything twice.

    Unique per (edition, subscriber): a second run, or a batch task the broker
    delivers again, finds the row and sends nothing. Skipped subscribers get a
    row too (email_id None), so the decision is never made twice either.
    """

    __tablename__ = "digest_delivery"
    __table_args__ = (UniqueConstraint("edition_id", "subscriber_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    edition_id: Mapped[int] = mapped_column(ForeignKey("digest_edition.id", ondelete="CASCADE"))
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("subscriber.id", ondelete="CASCADE"), index=True)
    #: The outbox row of the digest; None when the subscriber was skipped.
    email_id: Mapped[int | None] = mapped_column(ForeignKey("outgoing_email.id", ondelete="SET NULL"))
    #: The resources it highlighted; later digests never repeat them to this subscriber.
    resource_ids: Mapped[list] = mapped_column(db.JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
