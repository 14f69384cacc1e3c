"""The outbox: every email the portal must send, written in the same transaction as its cause."""
import enum
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.database import utcnow
from portal.extensions import db


class EmailStatus(str, enum.Enum):
    QUEUED = "queued"  # waiting for its next attempt (next_attempt_at)
    SENDING = "sending"  # claimed by a worker until lease_expires_at
    SENT = "sent"
    FAILED = "failed"  # permanent SMTP failure or attempts exhausted; never retried
    WITHHELD = "withheld"  # a send-time check stopped it (last_error says why); never sent


class Lane(str, enum.Enum):
    """Each lane has its own Celery queue and workers, so a mailing never delays a confirmation."""

    TRANSACTIONAL = "transactional"  # confirmations, links, status changes, invites: at once
    BULK = "bulk"  # digests and other mailings: paced by MAIL_BULK_RATE


class OutgoingEmail(db.Model):
    __tablename__ = "outgoing_email"
    __table_args__ = (
        CheckConstraint(
            "status IN ('queued', 'sending', 'sent', 'failed', 'withheld')", name="status_known"
        ),
        CheckConstraint("lane IN ('transactional', 'bulk')", name="lane_known"),
        Index("ix_outgoing_email_due", "status", "next_attempt_at"),
        Index("ix_outgoing_email_cause", "cause_kind", "cause_id"),
        Index("ix_outgoing_email_sent_at", "sent_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    lane: Mapped[str] = mapped_column(String(16), default=Lane.TRANSACTIONAL.value,
                                      server_default=Lane.TRANSACTIONAL.value)
    #: The template folder under templates/email/ that produced this message.
    name: Mapped[str] = mapped_column(String(64))
    to_address: Mapped[str] = mapped_column(String(320))
    from_address: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(998))
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)
    #: Extra headers (e.g. List-Unsubscribe) as a JSON object of name -> value.
    headers: Mapped[dict] = mapped_column(db.JSON, default=dict)
    #: Fixed when queued so a re-send after a crash is recognisable as the same message.
    message_id: Mapped[str] = mapped_column(String(255), unique=True)
    status: Mapped[str] = mapped_column(String(16), default=EmailStatus.QUEUED.value)
    #: Delivery attempts that reached the server with this message (or were lost with a
    #: worker mid-send); OUTBOX_MAX_ATTEMPTS of them make the row fail.
    attempts: Mapped[int] = mapped_column(default=0)
    #: Times the server could not be reached at all. They back off like attempts but never
    #: use one up: a relay that is down for a day is not the message's fault.
    deferrals: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: While status is 'sending': after this moment the claim is considered abandoned.
    lease_expires_at: Mapped[datetime | None]
    #: What caused the message, e.g. ("registration", 42): traces bounces and
    #: unsubscribes back, and lists a person's mail for admins. None for ad-hoc mail.
    cause_kind: Mapped[str | None] = mapped_column(String(32))
    cause_id: Mapped[int | None]
    #: The last SMTP reply or connection error ('failed' rows), or why a row was 'withheld'.
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]
    #: When the row became 'failed' (`flask --app portal outbox retry --failed-since` reads it).
    failed_at: Mapped[datetime | None]

    attachments: Mapped[list["OutgoingEmailAttachment"]] = relationship(
        back_populates="email", cascade="all, delete-orphan", order_by="OutgoingEmailAttachment.id"
    )


class OutgoingEmailAttachment(db.Model):
    __tablename__ = "outgoing_email_attachment"

    id: Mapped[int] = mapped_column(primary_key=True)
    email_id: Mapped[int] = mapped_column(
        ForeignKey("outgoing_email.id", ondelete="CASCADE"), index=True
    )
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(127))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    #: Set for images the HTML body shows inline (<img src="cid:...">); None for a download.
    content_id: Mapped[str | None] = mapped_column(String(255))

    email: Mapped[OutgoingEmail] = relationship(back_populates="attachments")


class MailSendWindow(db.Model):
    """On the embedded default, the count of bulk messages sent in one MAIL_BULK_RATE window (portal.mail.rate)."""

    __tablename__ = "mail_send_window"

    #: The limit it counts, e.g. "14/1second".
    limit_name: Mapped[str] = mapped_column(String(64), primary_key=True)
    window_start: Mapped[int]
    used: Mapped[int]
