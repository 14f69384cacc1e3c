"""Events, their days and attendee categories, and the registrations for them.

Seats are counted, never stored: a day's taken seats are its confirmed
registrations. The service locks the Event row before it counts, so that row
doubles as the event's capacity lock (see service.lock_event).
"""
import enum
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy import (
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.database import utcnow
from portal.extensions import db
from portal.registration import display


class RegistrationStatus(str, enum.Enum):
    CONFIRMED = "confirmed"  # holds a seat on each of its days
    WAITLISTED = "waitlisted"  # waits, in order of waitlisted_at, for a seat on all its days
    CANCELLED = "cancelled"  # kept for the record; holds nothing and frees its email address


class PaymentStatus(str, enum.Enum):
    UNPAID = "unpaid"
    PAID = "paid"
    WAIVED = "waived"  # an organiser let the fee go; `paid_on` is when they decided


#: How fees are paid, as the event file declares it: method -> what attendees are told.
PAYMENT_METHODS = {
    "invoice": "An invoice follows by email after you register.",
    "at_door": "Pay at the registration desk when you arrive.",
    "online": "Pay online on the payment page after you register.",
}


class Event(db.Model):
    __tablename__ = "event"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The event's address on the site: /events/<slug>.
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    #: One paragraph for the event page and the emails.
    summary: Mapped[str] = mapped_column(Text, default="")
    venue: Mapped[str] = mapped_column(String(200))
    address_line1: Mapped[str] = mapped_column(String(200))
    address_line2: Mapped[str | None] = mapped_column(String(200))
    city: Mapped[str] = mapped_column(String(100))
    #: State or province, e.g. "DC".
    region: Mapped[str] = mapped_column(String(100))
    postal_code: Mapped[str] = mapped_column(String(20))
    country: Mapped[str] = mapped_column(String(100))
    #: IANA time zone name; the days' start and end times are wall-clock times there.
    timezone: Mapped[str] = mapped_column(String(64), default="America/New_York")
    #: Naive UTC. The form accepts registrations from this moment...
    registration_opens_at: Mapped[datetime]
    #: ...until this one (naive UTC). Changes and cancellations online stop then too.
    registration_closes_at: Mapped[datetime]
    #: Most confirmed attendees over the whole event; None means only the per-day limits apply.
    capacity: Mapped[int | None]
    #: Version of the privacy notice attendees agree to; stored on each registration.
    privacy_policy_version: Mapped[str] = mapped_column(String(32))
    #: A key of PAYMENT_METHODS; None when the event file says nothing about paying.
    payment_method: Mapped[str | None] = mapped_column(String(16))
    #: The external payment page (method "online").
    payment_url: Mapped[str | None] = mapped_column(String(500))
    #: The organiser's own words on paying (deadline, purchase orders...), shown after the method.
    payment_instructions: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    days: Mapped[list["EventDay"]] = relationship(
        back_populates="event", order_by="EventDay.position", lazy="selectin", cascade="all, delete-orphan"
    )
    categories: Mapped[list["AttendeeCategory"]] = relationship(
        back_populates="event", order_by="AttendeeCategory.position", lazy="selectin",
        cascade="all, delete-orphan",
    )

    __table_args__ = (
        CheckConstraint("capacity IS NULL OR capacity >= 0", name="capacity_not_negative"),
        CheckConstraint("payment_method IS NULL OR payment_method IN ('invoice', 'at_door', 'online')",
                        name="payment_method_known"),
    )

    @property
    def payment_summary(self) -> str:
        """One sentence on how fees are paid, or "" when the event file declares nothing."""
        return PAYMENT_METHODS.get(self.payment_method or "", "")

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def first_day(self) -> "EventDay":
        return self.days[0]

    @property
    def last_day(self) -> "EventDay":
        return self.days[-1]

    @property
    def dates_label(self) -> str:
        return display.date_span(self.first_day.date, self.last_day.date)

    @property
    def address_lines(self) -> list[str]:
        lines = [self.address_line1]
        if self.address_line2:
            lines.append(self.address_line2)
        lines.append(f"{self.city}, {self.region} {self.postal_code}")
        lines.append(self.country)
        return lines

    @property
    def location(self) -> str:
        """Venue and address on one line, as calendars show it."""
        return ", ".join([self.venue, *self.address_lines])

    @property
    def ends_at(self) -> datetime:
        """Naive UTC moment the last day ends."""
        return self.last_day.ends_at_utc

    def is_open(self, now: datetime) -> bool:
        return self.registration_opens_at <= now < self.registration_closes_at

    def day_at(self, position: int) -> "EventDay":
        for day in self.days:
            if day.position == position:
                return day
        raise LookupError(f"{self.slug} has no day {position}")

    def category(self, code: str) -> "AttendeeCategory":
        for category in self.categories:
            if category.code == code:
                return category
        raise LookupError(f"{self.slug} has no attendee category {code!r}")

    def local_time(self, moment: datetime) -> datetime:
        """A naive UTC moment as an aware datetime in the event's time zone."""
        return moment.replace(tzinfo=ZoneInfo("UTC")).astimezone(self.zone)


class EventDay(db.Model):
    __tablename__ = "event_day"
    __table_args__ = (
        UniqueConstraint("event_id", "position", name="uq_event_day_event_id_position"),
        CheckConstraint("capacity >= 0", name="capacity_not_negative"),
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("event.id", ondelete="CASCADE"))
    #: 1 for the first day, 2 for the second; "Day 1" on the page.
    position: Mapped[int]
    date: Mapped[date]
    #: Wall-clock times in the event's time zone.
    starts_at: Mapped[time]
    ends_at: Mapped[time]
    #: Confirmed registrations this day can hold.
    capacity: Mapped[int]

    event: Mapped[Event] = relationship(back_populates="days")

    @property
    def label(self) -> str:
        return f"Day {self.position}"

    @property
    def date_label(self) -> str:
        return display.long_date(self.date)

    @property
    def local_start(self) -> datetime:
        return datetime.combine(self.date, self.starts_at, tzinfo=self.event.zone)

    @property
    def local_end(self) -> datetime:
        return datetime.combine(self.date, self.ends_at, tzinfo=self.event.zone)

    @property
    def ends_at_utc(self) -> datetime:
        return self.local_end.astimezone(ZoneInfo("UTC")).replace(tzinfo=None)

    @property
    def time_label(self) -> str:
        """E.g. "8:30 a.m. – 5:30 p.m. EDT (Washington, D.C. time)"."""
        return display.time_range(self.local_start, self.local_end)


class AttendeeCategory(db.Model):
    __tablename__ = "attendee_category"
    __table_args__ = (
        UniqueConstraint("event_id", "code", name="uq_attendee_category_event_id_code"),
        CheckConstraint("fee_cents >= 0", name="fee_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("event.id", ondelete="CASCADE"))
    #: Stable form value, e.g. "member" or "student".
    code: Mapped[str] = mapped_column(String(32))
    label: Mapped[str] = mapped_column(String(100))
    #: The registration fee shown for this category, in cents of `currency`.
    fee_cents: Mapped[int]
    #: ISO 4217 code, e.g. "USD".
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    #: Order on the form.
    position: Mapped[int]

    event: Mapped[Event] = relationship(back_populates="categories")

    @property
    def fee_label(self) -> str:
        return display.money(self.fee_cents, self.currency)


#: The days a registration is for: one row per (registration, day).
registration_day = Table(
    "registration_day",
    db.metadata,
    Column("registration_id", ForeignKey("registration.id", ondelete="CASCADE"), primary_key=True),
    Column("event_day_id", ForeignKey("event_day.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class Registration(db.Model):
    __tablename__ = "registration"
    __table_args__ = (
        CheckConstraint("status IN ('confirmed', 'waitlisted', 'cancelled')", name="status_known"),
        CheckConstraint("payment_status IN ('unpaid', 'paid', 'waived')", name="payment_status_known"),
        Index("ix_registration_event_status_waitlisted_at", "event_id", "status", "waitlisted_at"),
        # The admin dashboard's registrations-per-day chart.
        Index("ix_registration_event_created_at", "event_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("event.id", ondelete="CASCADE"))
    #: Public check-in code (QR code, emails, calendar UIDs): 8 characters without look-alikes.
    code: Mapped[str] = mapped_column(String(8), unique=True)
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    #: As typed (stripped); mail goes here.
    email: Mapped[str] = mapped_column(String(320))
    #: portal.mail.validation.address_key(email) (NFC, case-folded): what lookups and the
    #: unique index compare, so "José" typed two ways or in two cases is one address.
    email_key: Mapped[str] = mapped_column(String(320))
    organization: Mapped[str] = mapped_column(String(200))
    job_title: Mapped[str] = mapped_column(String(200))
    category_id: Mapped[int] = mapped_column(ForeignKey("attendee_category.id"))
    dietary: Mapped[str] = mapped_column(String(500), default="")
    accessibility: Mapped[str] = mapped_column(String(500), default="")
    #: The privacy notice version the attendee agreed to, and when.
    privacy_policy_version: Mapped[str] = mapped_column(String(32))
    privacy_accepted_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16))
    #: Set when the registration joined the waiting list; its place in line (ties broken by id).
    waitlisted_at: Mapped[datetime | None]
    confirmed_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]
    #: With REGISTRATION_CONFIRM_EMAIL on: the registration (and any seat it holds) is
    #: released at this moment unless its address is confirmed first (email_confirmed_at).
    hold_expires_at: Mapped[datetime | None]
    email_confirmed_at: Mapped[datetime | None]
    #: Recorded by an organiser (portal.registration.payments); categories without a fee stay "unpaid".
    payment_status: Mapped[str] = mapped_column(String(8), default=PaymentStatus.UNPAID.value)
    #: When it was paid or waived; None while unpaid.
    paid_on: Mapped[date | None]
    payment_note: Mapped[str] = mapped_column(String(500), default="")
    #: Part of every manage link; raising it makes all links sent so far stop working.
    token_version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    event: Mapped[Event] = relationship()
    category: Mapped[AttendeeCategory] = relationship(lazy="joined")
    days: Mapped[list[EventDay]] = relationship(
        secondary=registration_day, order_by=EventDay.position, lazy="selectin"
    )

    @property
    def is_confirmed(self) -> bool:
        return self.status == RegistrationStatus.CONFIRMED.value

    @property
    def is_waitlisted(self) -> bool:
        return self.status == RegistrationStatus.WAITLISTED.value

    @property
    def is_on_hold(self) -> bool:
        """Waiting for its address to be confirmed (REGISTRATION_CONFIRM_EMAIL)."""
        return self.hold_expires_at is not None and self.email_confirmed_at is None and not self.is_cancelled

    @property
    def is_cancelled(self) -> bool:
        return self.status == RegistrationStatus.CANCELLED.value

    @property
    def owes_fee(self) -> bool:
        return self.category.fee_cents > 0 and self.payment_status == PaymentStatus.UNPAID.value

    @property
    def payment_label(self) -> str:
        """E.g. "Paid on September 1, 2027", "Unpaid" or "No fee"."""
        if self.category.fee_cents == 0 and self.payment_status == PaymentStatus.UNPAID.value:
            return "No fee"
        if self.paid_on is None:
            return self.payment_status.capitalize()
        return f"{self.payment_status.capitalize()} on {display.long_date(self.paid_on)}"

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"

    @property
    def day_ids(self) -> frozenset[int]:
        return frozenset(day.id for day in self.days)

    @property
    def days_label(self) -> str:
        return display.days_choice_label(self.event.days, self.days)

    @property
    def days_phrase(self) -> str:
        """For sentences: "a seat for both days (...)"."""
        return display.days_choice_label(self.event.days, self.days, in_sentence=True)


# One active registration per event and address, however it was typed: the
# backstop behind the service's own check (a cancelled registration frees the address).
Index(
    "uq_registration_event_email_key_active",
    Registration.event_id,
    Registration.email_key,
    unique=True,
    postgresql_where=Registration.status != RegistrationStatus.CANCELLED.value,
    sqlite_where=Registration.status != RegistrationStatus.CANCELLED.value,
)
# "Lost your link?" looks an address up across events.
Index("ix_registration_email_key", Registration.email_key)


class CheckIn(db.Model):
    """An attendee arrived on one day of the event. One row per registration and day, at most."""

    __tablename__ = "check_in"
    __table_args__ = (UniqueConstraint("registration_id", "event_day_id", name="uq_check_in_registration_id_event_day_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    registration_id: Mapped[int] = mapped_column(ForeignKey("registration.id", ondelete="CASCADE"))
    event_day_id: Mapped[int] = mapped_column(ForeignKey("event_day.id", ondelete="CASCADE"), index=True)
    checked_in_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: The staff member's account (None once that account is deleted); the audit log has the rest.
    checked_in_by: Mapped[int | None] = mapped_column(ForeignKey("admin_user.id", ondelete="SET NULL"))

    registration: Mapped[Registration] = relationship()
    day: Mapped[EventDay] = relationship()
