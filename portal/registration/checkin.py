"""Checking attendees in at the door, one event day at a time."""
import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from portal.database import utcnow
from portal.extensions import db
from portal.registration.models import CheckIn, Event, EventDay, Registration

#: What staff may type: the 8-character code, any case, spaces or dashes ignored.
_CODE_NOISE = re.compile(r"[\s\-]")


class CheckInRefused(Exception):
    """This person cannot be checked in for this day; the message says why, for staff at the door."""


@dataclass(frozen=True)
class CheckInResult:
    registration: Registration
    day: EventDay
    checked_in_at: datetime
    #: True when this registration was already checked in for the day (nothing was written).
    already: bool


def normalise_code(typed: str) -> str:
    return _CODE_NOISE.sub("", typed or "").upper()[:16]


def day_for_check_in(event: Event, now: datetime | None = None) -> EventDay:
    """Today's event day in the event's time zone; before the event the first day, after it the last."""
    today = event.local_time(now or utcnow()).date()
    for day in event.days:
        if day.date == today:
            return day
    return event.first_day if today < event.first_day.date else event.last_day


def check_in(event: Event, code: str, day: EventDay, by_admin_id: int | None) -> CheckInResult:
    """Record that the holder of `code` arrived on `day`; a second check-in the same day writes nothing.

    The unique (registration, day) constraint decides a race between two staff
    scanning the same badge: the loser sees "already checked in".
    """
    registration = db.session.scalar(
        select(Registration).where(Registration.event_id == event.id, Registration.code == normalise_code(code))
    )
    if registration is None:
        raise CheckInRefused("No registration for this event has that code.")
    if registration.is_cancelled:
        raise CheckInRefused(f"{registration.full_name}'s registration was cancelled.")
    if not registration.is_confirmed:
        raise CheckInRefused(f"{registration.full_name} is on the waiting list and has no seat.")
    if day.id not in registration.day_ids:
        raise CheckInRefused(f"{registration.full_name} is registered for {registration.days_label}, not {day.label}.")
    existing = _existing(registration.id, day.id)
    if existing is not None:
        return CheckInResult(registration, day, existing.checked_in_at, already=True)
    try:
        with db.session.begin_nested():
            row = CheckIn(registration_id=registration.id, event_day_id=day.id, checked_in_by=by_admin_id)
            db.session.add(row)
    except IntegrityError:
        existing = _existing(registration.id, day.id)
        return CheckInResult(registration, day, existing.checked_in_at, already=True)
    return CheckInResult(registration, day, row.checked_in_at, already=False)


def _existing(registration_id: int, day_id: int) -> CheckIn | None:
    return db.session.scalar(
        select(CheckIn).where(CheckIn.registration_id == registration_id, CheckIn.event_day_id == day_id)
    )


def headcounts(event: Event) -> dict[int, int]:
    """Checked-in people per event day id (0 for a day nobody has arrived on yet)."""
    counts = dict(
        db.session.execute(
            select(CheckIn.event_day_id, func.count())
            .join(EventDay, EventDay.id == CheckIn.event_day_id)
            .where(EventDay.event_id == event.id)
            .group_by(CheckIn.event_day_id)
        ).all()
    )
    return {day.id: counts.get(day.id, 0) for day in event.days}


def check_ins_of(registration_id: int) -> list[CheckIn]:
    return list(
        db.session.scalars(
            select(CheckIn).where(CheckIn.registration_id == registration_id).order_by(CheckIn.checked_in_at)
        )
    )
