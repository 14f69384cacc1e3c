"""Registration decisions: who gets a seat, who waits, who is promoted, and who is told.

Every operation that can change who holds a seat (register, change days,
cancel, capacity change) locks the event (`lock_event`) before it counts free
seats, then writes and queues its emails in the outbox, and flushes. The
caller commits, which also releases the lock; an error leaves the caller to
roll back, so nothing is ever half-written and no email goes out for a change
that did not happen. Lock contention raises RegistrationBusy.

A registration POST is the exception to "queue the email in the outbox": it
writes a deferred request naming the email instead, and a task renders it
once the visitor has their answer (send_registration_email). Rendering a
confirmation (QR code, calendar file, highlights) in the request made a new
address measurably slower to answer than one already registered, which
told a prober who is registered.
"""
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import and_, func, or_, select
from sqlalchemy.exc import IntegrityError

from portal.database import lock_timeouts_as, select_for_update, utcnow
from portal.deferred.intake import defer_request
from portal.extensions import db
from portal.mail.validation import address_key
from portal.registration import emails
from portal.registration.errors import (
    DaysUnavailable,
    EmailTaken,
    EventNotFound,
    ExpiredManageToken,
    RegistrationBusy,
    RegistrationCancelled,
    RegistrationClosed,
    UnknownRegistration,
)
from portal.registration.models import (
    Event,
    EventDay,
    Registration,
    RegistrationStatus,
    registration_day,
)
from portal.registration.tokens import read_manage_token

CONFIRMED = RegistrationStatus.CONFIRMED.value
WAITLISTED = RegistrationStatus.WAITLISTED.value
CANCELLED = RegistrationStatus.CANCELLED.value

# Check-in codes: no 0/O or 1/I, so a code read aloud or typed from a badge is unambiguous.
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 8


@dataclass(frozen=True)
class AttendeeDetails:
    """A validated registration form."""

    first_name: str
    last_name: str
    email: str
    organization: str
    job_title: str
    category_code: str
    day_positions: tuple[int, ...]
    dietary: str
    accessibility: str


@dataclass(frozen=True)
class RegistrationOutcome:
    """What the "check your inbox" page tells the visitor."""

    status: str  # "confirmed" or "waitlisted"
    position: int | None = None  # place on the waiting list, 1 = next in line


@dataclass(frozen=True)
class ChangeResult:
    changes: list[str]
    promoted: bool = False


@dataclass
class Seats:
    """Free seats, counted under the event lock: per day id, and overall (None = no overall limit)."""

    per_day: dict[int, int]
    overall: int | None = None

    def full_days(self, day_ids) -> list[int]:
        return [day_id for day_id in day_ids if self.per_day.get(day_id, 0) <= 0]

    def fit(self, day_ids) -> bool:
        return (self.overall is None or self.overall > 0) and not self.full_days(day_ids)

    def take(self, day_ids) -> None:
        self._move(day_ids, -1)

    def give_back(self, day_ids) -> None:
        self._move(day_ids, +1)

    def _move(self, day_ids, step: int) -> None:
        for day_id in day_ids:
            self.per_day[day_id] += step
        if self.overall is not None:
            self.overall += step


SLUG_PATTERN = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")

# --- Reading ---------------------------------------------------------------------------


def get_event(slug: str) -> Event:
    # Slugs come from the URL: anything not slug-shaped (a NUL byte, which
    # PostgreSQL refuses outright, or a 5,000-character string) is simply unknown.
    if not SLUG_PATTERN.fullmatch(slug):
        raise EventNotFound(slug[:100])
    event = db.session.scalar(select(Event).where(Event.slug == slug))
    if event is None:
        raise EventNotFound(slug)
    return event


def featured_event(now: datetime | None = None) -> Event | None:
    """The event /summit shows: the one open for registration, else the next one to open."""
    now = now or utcnow()
    open_now = db.session.scalar(
        select(Event)
        .where(Event.registration_opens_at <= now, Event.registration_closes_at > now)
        .order_by(Event.registration_closes_at, Event.id)
        .limit(1)
    )
    if open_now is not None:
        return open_now
    return db.session.scalar(
        select(Event).where(Event.registration_opens_at > now).order_by(Event.registration_opens_at).limit(1)
    )


def count_seats(event_id: int, overall_capacity: int | None) -> Seats:
    """Free seats right now, in one query. Only meaningful for a decision while holding the event lock.

    The count starts from the event's confirmed registrations (an index range),
    so its cost follows the seats taken, not the length of the waiting list.
    """
    is_confirmed = and_(Registration.event_id == event_id, Registration.status == CONFIRMED)
    taken = (
        select(registration_day.c.event_day_id, func.count().label("taken"))
        .join(Registration, Registration.id == registration_day.c.registration_id)
        .where(is_confirmed)
        .group_by(registration_day.c.event_day_id)
        .subquery()
    )
    columns = [EventDay.id, EventDay.capacity, func.coalesce(taken.c.taken, 0)]
    if overall_capacity is not None:
        columns.append(select(func.count()).select_from(Registration).where(is_confirmed).scalar_subquery())
    rows = db.session.execute(
        select(*columns).outerjoin(taken, taken.c.event_day_id == EventDay.id).where(EventDay.event_id == event_id)
    ).all()
    seats = Seats({row[0]: max(row[1] - row[2], 0) for row in rows})
    if overall_capacity is not None:
        seats.overall = max(overall_capacity - (rows[0][3] if rows else 0), 0)
    return seats


def seats_for_display(event: Event) -> Seats:
    return count_seats(event.id, event.capacity)


def waitlist_length(event_id: int) -> int:
    return db.session.scalar(
        select(func.count()).where(Registration.event_id == event_id, Registration.status == WAITLISTED)
    )


def waitlist_position(registration: Registration) -> int | None:
    """1 for the next in line; None unless the registration is waiting."""
    if not registration.is_waitlisted:
        return None
    ahead_or_same = or_(
        Registration.waitlisted_at < registration.waitlisted_at,
        and_(Registration.waitlisted_at == registration.waitlisted_at, Registration.id <= registration.id),
    )
    return db.session.scalar(
        select(func.count()).where(
            Registration.event_id == registration.event_id, Registration.status == WAITLISTED, ahead_or_same
        )
    )


def active_registration(event_id: int, email: str) -> Registration | None:
    """The registration holding this address for the event, however it was typed."""
    return db.session.scalar(
        select(Registration).where(
            Registration.event_id == event_id,
            Registration.email_key == address_key(email),
            Registration.status != CANCELLED,
        )
    )


def registration_from_token(token: str) -> Registration:
    """The registration a manage link points at; raises an InvalidManageToken subtype."""
    return registration_for_link(*read_manage_token(token), replaced="this link was replaced by a newer one")


def registration_for_link(code: str, token_version: int, replaced: str) -> Registration:
    """The registration a link (of any purpose) names, if that link was not replaced by a newer one."""
    registration = db.session.scalar(select(Registration).where(Registration.code == code))
    if registration is None:
        raise UnknownRegistration(code)
    if registration.token_version != token_version:
        raise ExpiredManageToken(replaced)
    return registration


def preview_outcome(event: Event, day_positions) -> RegistrationOutcome:
    """What a new registration for these days would be told right now (nothing is written)."""
    seats = count_seats(event.id, event.capacity)
    return _outcome_for_newcomer(event, seats, {event.day_at(p).id for p in day_positions})


def _outcome_for_newcomer(event: Event, seats: Seats, day_ids) -> RegistrationOutcome:
    if seats.fit(day_ids):
        return RegistrationOutcome(CONFIRMED)
    return RegistrationOutcome(WAITLISTED, waitlist_length(event.id) + 1)


# --- The capacity lock -----------------------------------------------------------------


def lock_event(event_id: int) -> int | None:
    """Take the event's capacity lock for the rest of the transaction; return its overall capacity.

    Hazard: under READ COMMITTED two requests can both count the last free seat
    and both insert a confirmed registration. Holding the event row FOR UPDATE
    makes every seat-changing transaction of one event wait its turn, and the
    count happens after the lock, so it sees every earlier commit. It is the
    first and only lock these transactions take, so they cannot deadlock. A
    waiter gives up after REGISTRATION_LOCK_TIMEOUT_MS (RegistrationBusy: the
    visitor gets "busy, try again").
    """
    config = current_app.config
    with lock_timeouts_as(RegistrationBusy):
        return select_for_update(
            select(Event.capacity).where(Event.id == event_id),
            timeout_ms=config["REGISTRATION_LOCK_TIMEOUT_MS"],
            lock=config["REGISTRATION_CAPACITY_LOCK"],
        ).scalar_one()


def _lock_registration(registration_id: int) -> tuple[Registration, int | None]:
    """Lock the registration's event, then read the registration as it is now."""
    event_id = db.session.scalar(select(Registration.event_id).where(Registration.id == registration_id))
    if event_id is None:
        raise UnknownRegistration(str(registration_id))
    overall_capacity = lock_event(event_id)
    registration = db.session.execute(
        select(Registration).where(Registration.id == registration_id).execution_options(populate_existing=True)
    ).scalar_one()
    return registration, overall_capacity


# --- Registering -----------------------------------------------------------------------


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def register_attendee(event: Event, details: AttendeeDetails) -> RegistrationOutcome:
    """Confirm or waitlist a new registration and queue its email, under the event lock.

    An address that already holds a registration for the event gets nothing
    new: its owner is emailed "you are already registered, here is your link",
    and the visitor is shown exactly what a new registration for these days
    would be shown right now (confirmed if seats are free, else the next
    waiting-list place). So the page never reveals whether an address is
    registered; only the mailbox's owner learns the truth.
    """
    if not event.is_open(utcnow()):
        raise RegistrationClosed(event.slug)
    for _attempt in range(3):
        registration = _new_registration(event, details)
        try:
            # A savepoint, so a collision undoes this attempt only, not the caller's transaction.
            with db.session.begin_nested():
                return _register_locked(registration)
        except IntegrityError:
            # The unique index caught what the check could not see: the same
            # address committed in between (possible only with the lock off),
            # or a check-in code collided. The next pass finds the duplicate
            # under the lock, or draws a new code.
            continue
    raise RuntimeError("registration kept colliding with the unique constraints")


def _new_registration(event: Event, details: AttendeeDetails) -> Registration:
    """The registration as it will be stored, not yet in the session and without a status."""
    now = utcnow()
    return Registration(
        event=event,
        code=new_code(),
        first_name=details.first_name,
        last_name=details.last_name,
        email=details.email,
        email_key=address_key(details.email),
        organization=details.organization,
        job_title=details.job_title,
        category=event.category(details.category_code),
        dietary=details.dietary,
        accessibility=details.accessibility,
        privacy_policy_version=event.privacy_policy_version,
        privacy_accepted_at=now,
        days=[event.day_at(position) for position in details.day_positions],
        token_version=1,
        created_at=now,
    )


def _register_locked(registration: Registration) -> RegistrationOutcome:
    event = registration.event
    overall_capacity = lock_event(event.id)
    seats = count_seats(event.id, overall_capacity)
    day_ids = registration.day_ids

    existing = active_registration(event.id, registration.email)
    if existing is not None:
        _defer_registration_email(existing, ALREADY_REGISTERED_EMAIL)
        return _outcome_for_newcomer(event, seats, day_ids)

    now = utcnow()
    if seats.fit(day_ids):
        registration.status = CONFIRMED
        registration.confirmed_at = now
        outcome = RegistrationOutcome(CONFIRMED)
    else:
        registration.status = WAITLISTED
        registration.waitlisted_at = now
        outcome = RegistrationOutcome(WAITLISTED, waitlist_length(event.id) + 1)
    if current_app.config["REGISTRATION_CONFIRM_EMAIL"]:
        registration.hold_expires_at = now + timedelta(hours=current_app.config["REGISTRATION_HOLD_HOURS"])
    db.session.add(registration)
    db.session.flush()  # the unique constraints speak here, before any email is rendered

    if registration.is_on_hold:
        # The seat (or place in line) is held; the usual email follows the address's confirmation.
        _defer_registration_email(registration, VERIFY_EMAIL)
    elif registration.is_confirmed:
        _defer_registration_email(registration, CONFIRMATION_EMAIL)
    else:
        _defer_registration_email(registration, WAITLISTED_EMAIL, full_day_ids=seats.full_days(day_ids))
    return outcome


# --- The email a registration POST causes, sent after the response ----------------------

REGISTRATION_EMAIL_REQUEST = "registration.email"
CONFIRMATION_EMAIL = "confirmation"
WAITLISTED_EMAIL = "waitlisted"
VERIFY_EMAIL = "verify"
ALREADY_REGISTERED_EMAIL = "already_registered"


def _defer_registration_email(registration: Registration, which: str, **details) -> None:
    """Write "send `which` to this registrant" in the caller's transaction (portal.deferred)."""
    defer_request(
        REGISTRATION_EMAIL_REQUEST, registration.email, {"registration_id": registration.id, "email": which, **details}
    )


# --- The waiting list ------------------------------------------------------------------


def _promote_locked(event_id: int, seats: Seats) -> list[Registration]:
    """Give free seats to waiting registrants in order; the caller holds the event lock.

    Someone whose days are not all free is skipped, not a barrier: a later
    registrant who asked only for a day with room gets it.
    """
    now = utcnow()
    promoted = []
    waiting = db.session.scalars(
        select(Registration)
        .where(Registration.event_id == event_id, Registration.status == WAITLISTED)
        .order_by(Registration.waitlisted_at, Registration.id)
    ).all()
    for registration in waiting:
        if seats.overall == 0:
            break
        if not seats.fit(registration.day_ids):
            continue
        seats.take(registration.day_ids)
        registration.status = CONFIRMED
        registration.confirmed_at = now
        emails.send_promoted(registration, to=registration.email)
        promoted.append(registration)
    db.session.flush()
    return promoted


def promote_from_waitlist(event_id: int) -> list[Registration]:
    """Fill every free seat from the waiting list (e.g. after an admin fixed data by hand)."""
    overall_capacity = lock_event(event_id)
    return _promote_locked(event_id, count_seats(event_id, overall_capacity))


def set_day_capacity(event_id: int, position: int, capacity: int) -> list[Registration]:
    """Change one day's capacity and promote whoever now fits. Lowering never demotes anyone."""
    overall_capacity = lock_event(event_id)
    day = db.session.scalar(select(EventDay).where(EventDay.event_id == event_id, EventDay.position == position))
    day.capacity = capacity
    db.session.flush()
    return _promote_locked(event_id, count_seats(event_id, overall_capacity))


def set_event_capacity(event_id: int, capacity: int | None) -> list[Registration]:
    """Change the overall capacity (None: per-day limits only) and promote whoever now fits."""
    lock_event(event_id)
    event = db.session.get(Event, event_id)
    event.capacity = capacity
    db.session.flush()
    return _promote_locked(event_id, count_seats(event_id, capacity))


# --- Managing a registration -----------------------------------------------------------


def change_registration(registration_id: int, day_positions, dietary: str, accessibility: str) -> ChangeResult:
    """Change days and needs. A confirmed attendee keeps their seat unless every new day has room.

    Raises DaysUnavailable (nothing changed) when an added day is full. A
    waiting registrant keeps their place in line with the new days, and is
    promoted at once if those fit.
    """
    registration, overall_capacity = _lock_registration(registration_id)
    _check_changeable(registration)
    event = registration.event
    new_days = [event.day_at(position) for position in day_positions]
    new_ids = frozenset(day.id for day in new_days)
    old_days_label = registration.days_label
    # Only a seat holder has calendar entries to withdraw for the days they give up.
    dropped_days = [day for day in registration.days if day.id not in new_ids] if registration.is_confirmed else []
    changes = []
    seats = count_seats(event.id, overall_capacity)
    if new_ids != registration.day_ids:
        if registration.is_confirmed:
            seats.give_back(registration.day_ids)
            full = seats.full_days(new_ids)
            if full:
                raise DaysUnavailable([day for day in new_days if day.id in full])
            seats.take(new_ids)
        registration.days = new_days
        changes.append(f"Days: {old_days_label} → {registration.days_label}")
    if dietary != registration.dietary:
        registration.dietary = dietary
        changes.append("Dietary needs updated")
    if accessibility != registration.accessibility:
        registration.accessibility = accessibility
        changes.append("Accessibility needs updated")
    if not changes:
        return ChangeResult([])
    db.session.flush()
    promoted = _promote_locked(event.id, seats)
    if registration not in promoted:
        emails.send_changed(
            registration, changes, waitlist_position(registration), dropped_days, to=registration.email
        )
    return ChangeResult(changes, promoted=registration in promoted)


def cancel_registration(registration_id: int, by_organiser: bool = False) -> list[Registration]:
    """Cancel and give the freed seats to the waiting list; returns who was promoted.

    Cancelling twice is harmless: the second time nothing happens and nobody is emailed.
    Organisers (the admin pages) may cancel after online changes have closed.
    """
    registration, overall_capacity = _lock_registration(registration_id)
    if registration.is_cancelled:
        return []
    if not by_organiser:
        _check_changeable(registration)
    registration.status = CANCELLED
    registration.cancelled_at = utcnow()
    db.session.flush()
    emails.send_cancelled(registration, to=registration.email)
    return _promote_locked(registration.event_id, count_seats(registration.event_id, overall_capacity))


# --- Organisers' corrections ------------------------------------------------------------


EDITABLE_FIELDS = ("first_name", "last_name", "email", "organization", "job_title", "dietary", "accessibility")


def correct_details(registration_id: int, fields: dict, category_code: str) -> list[str]:
    """An organiser corrects an attendee's details; returns the names of the fields that changed.

    Seats are untouched (the category has no capacity of its own), so no lock is
    needed. A new address must not belong to another active registration for the
    event: EmailTaken, and nothing is written.
    """
    registration = db.session.get(Registration, registration_id)
    if registration is None:
        raise UnknownRegistration(str(registration_id))
    changed = [name for name in EDITABLE_FIELDS if fields[name] != getattr(registration, name)]
    new_key = address_key(fields["email"])
    if new_key != registration.email_key and not registration.is_cancelled:
        other = active_registration(registration.event_id, fields["email"])
        if other is not None and other.id != registration.id:
            raise EmailTaken(fields["email"])
    category = registration.event.category(category_code)
    try:
        # A savepoint: if another organiser gave the address away at the same moment,
        # the unique index refuses it here and nothing of this edit is kept.
        with db.session.begin_nested():
            for name in changed:
                setattr(registration, name, fields[name])
            registration.email_key = new_key
            if category.id != registration.category_id:
                registration.category = category
                changed.append("category")
            if "email" in changed:
                # Links mailed to the old address stop working; the new address gets fresh ones.
                registration.token_version += 1
    except IntegrityError:
        raise EmailTaken(fields["email"]) from None
    return changed


def resend_status_email(registration_id: int) -> str:
    """Send the registrant the email for where they stand now (an organiser asked); returns its name.

    Every such email carries a fresh manage link, so it also rescues an attendee who lost theirs.
    """
    registration = db.session.get(Registration, registration_id)
    if registration is None:
        raise UnknownRegistration(str(registration_id))
    if registration.is_cancelled:
        raise RegistrationCancelled(registration.code)
    if registration.is_on_hold:
        sent = emails.send_verify_request(registration, waitlist_position(registration), to=registration.email)
    elif registration.is_confirmed:
        sent = emails.send_confirmation(registration, to=registration.email)
    else:
        sent = emails.send_manage_link(registration, waitlist_position(registration), to=registration.email)
    return sent.name


def _check_changeable(registration: Registration) -> None:
    if registration.is_cancelled:
        raise RegistrationCancelled(registration.code)
    if not changes_open(registration.event):
        raise RegistrationClosed(registration.event.slug)


def changes_open(event: Event) -> bool:
    """Attendees can change or cancel online for as long as registration is open."""
    return utcnow() < event.registration_closes_at
