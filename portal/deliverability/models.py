"""What came back from mailbox providers (bounces, complaints) and the addresses bulk mail now skips."""
import enum
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from portal.database import utcnow
from portal.extensions import db


class DeliveryEventKind(str, enum.Enum):
    HARD_BOUNCE = "hard_bounce"  # permanent: the address does not take mail (5.x.x)
    SOFT_BOUNCE = "soft_bounce"  # temporary: mailbox full, greylisted, host down (4.x.x)
    COMPLAINT = "complaint"  # the recipient marked a message as spam (RFC 5965 ARF)
    UNMATCHED = "unmatched"  # a report that names no message and no address we mailed


class EventSource(str, enum.Enum):
    SMTP = "smtp"  # our relay refused the recipient at RCPT time
    DSN = "dsn"  # an RFC 3464 delivery status notification
    ARF = "arf"  # an RFC 5965 feedback report
    OTHER = "other"  # a non-standard bounce that flufl.bounce recognised


class SuppressionReason(str, enum.Enum):
    HARD_BOUNCE = "hard_bounce"
    SOFT_BOUNCES = "soft_bounces"
    COMPLAINT = "complaint"


#: Diagnostic texts are cut to this many characters: a relay may quote a whole message.
DIAGNOSTIC_MAX = 2000


class DeliveryEvent(db.Model):
    """One bounce or complaint for one recipient, against the outbox row it came back for."""

    __tablename__ = "delivery_event"
    __table_args__ = (
        CheckConstraint(
            "kind IN ('hard_bounce', 'soft_bounce', 'complaint', 'unmatched')", name="kind_known"
        ),
        CheckConstraint("source IN ('smtp', 'dsn', 'arf', 'other')", name="source_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    #: The message that bounced; None when unmatched, or once the outbox row is purged.
    email_id: Mapped[int | None] = mapped_column(
        ForeignKey("outgoing_email.id", ondelete="SET NULL"), index=True
    )
    #: portal.mail.validation.address_key of the recipient; None when the report names none.
    address_key: Mapped[str | None] = mapped_column(String(320), index=True)
    #: The outbox row's lane ("transactional" or "bulk") when the message is known.
    lane: Mapped[str | None] = mapped_column(String(16))
    #: The enhanced status code (e.g. "5.1.1"), or the bare SMTP reply code.
    status_code: Mapped[str | None] = mapped_column(String(16))
    #: The remote server's words, cut to DIAGNOSTIC_MAX characters.
    diagnostic: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class MailSuppression(db.Model):
    """An address bulk mail is withheld from, and why.

    Distinct from portal.newsletter.models.SuppressedAddress, which keeps only
    hashes of erased addresses: this list names addresses so that an admin can
    search it and clear an entry.
    """

    __tablename__ = "mail_suppression"
    __table_args__ = (
        CheckConstraint("reason IN ('hard_bounce', 'soft_bounces', 'complaint')", name="reason_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    address_key: Mapped[str] = mapped_column(String(320), unique=True)
    reason: Mapped[str] = mapped_column(String(16))
    #: The event that tipped it; None once that event is gone.
    event_id: Mapped[int | None] = mapped_column(ForeignKey("delivery_event.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
