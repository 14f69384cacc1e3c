"""Newsletter subscribers, what they asked for, and the record of their consent."""
import enum
from datetime import date, datetime

from sqlalchemy import CheckConstraint, Column, ForeignKey, Index, String, Table
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.database import utcnow
from portal.extensions import db
from portal.resources.models import Topic


class SubscriberStatus(str, enum.Enum):
    PENDING = "pending"  # signed up, has not clicked "Confirm subscription" yet
    CONFIRMED = "confirmed"  # double opt-in done: gets what their preferences say
    UNSUBSCRIBED = "unsubscribed"  # gets nothing; may resubscribe from the preference page
    BOUNCED = "bounced"  # the address bounced (portal.deliverability); a new double opt-in revives it
    ERASED = "erased"  # personal data replaced; only the suppression entry remembers the address


class Frequency(str, enum.Enum):
    WEEKLY = "weekly"
    MONTHLY = "monthly"


class SignupSource(str, enum.Enum):
    """Which form a signup came from; recorded with the consent."""

    FOOTER = "footer"
    PAGE = "page"
    REGISTRATION = "registration"


subscriber_topic = Table(
    "subscriber_topic",
    db.metadata,
    Column("subscriber_id", ForeignKey("subscriber.id", ondelete="CASCADE"), primary_key=True),
    Column("topic_id", ForeignKey("topic.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class Subscriber(db.Model):
    __tablename__ = "subscriber"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'confirmed', 'unsubscribed', 'bounced', 'erased')", name="status_known"),
        CheckConstraint("frequency IN ('weekly', 'monthly')", name="frequency_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The address as the subscriber typed it (mail goes here); None once erased.
    email: Mapped[str | None] = mapped_column(String(320))
    #: portal.mail.validation.address_key(email): what lookups compare. Unique, so one
    #: address is one subscriber however it was capitalised or composed.
    email_key: Mapped[str | None] = mapped_column(String(320), unique=True)
    #: Optional, for the greeting; "" when not given.
    first_name: Mapped[str] = mapped_column(String(100), default="")
    status: Mapped[str] = mapped_column(String(16), default=SubscriberStatus.PENDING.value)
    frequency: Mapped[str] = mapped_column(String(16), default=Frequency.MONTHLY.value)
    #: Wants news of the Policy Summit and other events, besides the catalog topics.
    wants_events: Mapped[bool] = mapped_column(default=True)
    #: No digests before this day (the subscriber chose a pause); None = not paused.
    paused_until: Mapped[date | None]
    #: The form of the latest signup request; copied to consent_source on confirmation.
    signup_source: Mapped[str | None] = mapped_column(String(16))
    #: The form the confirmed opt-in came from, and the privacy notice version it was given under.
    consent_source: Mapped[str | None] = mapped_column(String(16))
    privacy_policy_version: Mapped[str | None] = mapped_column(String(32))
    #: Raised to revoke every link sent before (erasure).
    token_version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    confirmed_at: Mapped[datetime | None]
    unsubscribed_at: Mapped[datetime | None]
    erased_at: Mapped[datetime | None]
    #: Catalog resources the welcome email highlighted (ids): digests count them as
    #: already sent, so a first digest does not repeat the welcome. None: nothing yet.
    welcome_resource_ids: Mapped[list | None] = mapped_column(db.JSON)

    topics: Mapped[list[Topic]] = relationship(secondary=subscriber_topic, order_by=Topic.position, lazy="selectin")

    @property
    def is_confirmed(self) -> bool:
        return self.status == SubscriberStatus.CONFIRMED.value

    @property
    def is_pending(self) -> bool:
        return self.status == SubscriberStatus.PENDING.value

    @property
    def is_unsubscribed(self) -> bool:
        return self.status == SubscriberStatus.UNSUBSCRIBED.value

    @property
    def is_bounced(self) -> bool:
        return self.status == SubscriberStatus.BOUNCED.value


class SubscriptionEvent(db.Model):
    """Append-only history of a subscription: the proof of consent, and what counts against the caps."""

    __tablename__ = "subscription_event"
    __table_args__ = (Index("ix_subscription_event_subscriber_kind_at", "subscriber_id", "kind", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("subscriber.id", ondelete="CASCADE"))
    #: e.g. "signup", "confirmation_sent", "confirmed", "preferences_changed", "unsubscribed".
    kind: Mapped[str] = mapped_column(String(32))
    #: The form or link that caused it: "footer", "page", "registration", "one-click", "preferences".
    source: Mapped[str | None] = mapped_column(String(16))
    privacy_policy_version: Mapped[str | None] = mapped_column(String(32))
    #: What changed, e.g. the chosen topics and frequency. Never the address or the name.
    detail: Mapped[dict] = mapped_column(db.JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SuppressedAddress(db.Model):
    """An address that erased its data: never mailed again until a new double opt-in.

    Only a SHA-256 of the address key is kept, so the list itself holds no address.
    """

    __tablename__ = "suppressed_address"

    address_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    reason: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
