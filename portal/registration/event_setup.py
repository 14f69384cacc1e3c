"""Events from files: `flask create-event` / `update-event` and the admin's event settings.

An update changes only what the file changes, under the event lock; raising a
capacity promotes waiting registrants at once.
"""

from sqlalchemy import func, select

from portal.extensions import db
from portal.registration.errors import (
    EventChangeRefused,
    EventExists,
)
from portal.registration.models import (
    AttendeeCategory,
    Event,
    EventDay,
    Registration,
    registration_day,
)

from portal.registration.service import get_event, lock_event, set_day_capacity, set_event_capacity


# --- Events from files (flask create-event / update-event, admin event settings) -------


def create_event(spec) -> Event:
    """A new event from an EventSpec (portal.registration.event_file); raises EventExists."""
    if db.session.scalar(select(Event.id).where(Event.slug == spec.slug)) is not None:
        raise EventExists(spec.slug)
    event = Event(slug=spec.slug, capacity=spec.capacity)
    _apply_event_fields(event, spec)
    event.days = [
        EventDay(position=position, date=d.date, starts_at=d.starts_at, ends_at=d.ends_at, capacity=d.capacity)
        for position, d in enumerate(spec.days, start=1)
    ]
    event.categories = [
        AttendeeCategory(code=c.code, label=c.label, fee_cents=c.fee_cents, currency=c.currency, position=position)
        for position, c in enumerate(spec.categories, start=1)
    ]
    db.session.add(event)
    db.session.flush()
    return event


def update_event(spec) -> list[Registration]:
    """Bring an existing event in line with an EventSpec; returns who was promoted.

    Capacity changes go through set_day_capacity / set_event_capacity, under
    the event lock, so raising a limit promotes waiting registrants. Removing a
    day or a category that registrations use raises EventChangeRefused.
    """
    event = get_event(spec.slug)
    lock_event(event.id)
    _apply_event_fields(event, spec)
    _update_days(event, spec.days)
    _update_categories(event, spec.categories)
    db.session.flush()
    promoted = []
    for position, day in enumerate(spec.days, start=1):
        promoted += set_day_capacity(event.id, position, day.capacity)
    promoted += set_event_capacity(event.id, spec.capacity)
    return promoted


def _apply_event_fields(event: Event, spec) -> None:
    for name in (
        "title", "summary", "venue", "address_line1", "address_line2", "city", "region", "postal_code", "country",
        "timezone", "registration_opens_at", "registration_closes_at", "privacy_policy_version",
        "payment_method", "payment_url", "payment_instructions",
    ):
        setattr(event, name, getattr(spec, name))


def _used_by_registrations(*condition) -> bool:
    return db.session.scalar(select(func.count()).select_from(Registration).where(*condition)) > 0


def _update_days(event: Event, day_specs) -> None:
    for day in event.days[len(day_specs):]:
        in_use = db.session.scalar(
            select(func.count()).select_from(registration_day).where(registration_day.c.event_day_id == day.id)
        )
        if in_use:
            raise EventChangeRefused(f"{day.label} has {in_use} registration(s) and cannot be removed")
        event.days.remove(day)
    for position, spec in enumerate(day_specs, start=1):
        if position > len(event.days):
            event.days.append(EventDay(position=position, date=spec.date, starts_at=spec.starts_at,
                                       ends_at=spec.ends_at, capacity=spec.capacity))
            continue
        day = event.days[position - 1]
        day.date, day.starts_at, day.ends_at = spec.date, spec.starts_at, spec.ends_at


def _update_categories(event: Event, category_specs) -> None:
    wanted = {spec.code: (position, spec) for position, spec in enumerate(category_specs, start=1)}
    for category in list(event.categories):
        if category.code in wanted:
            continue
        if _used_by_registrations(Registration.category_id == category.id):
            raise EventChangeRefused(f"category {category.code!r} is used by registrations and cannot be removed")
        event.categories.remove(category)
    existing = {category.code: category for category in event.categories}
    for code, (position, spec) in wanted.items():
        category = existing.get(code)
        if category is None:
            category = AttendeeCategory(code=code)
            event.categories.append(category)
        category.label, category.fee_cents, category.currency, category.position = (
            spec.label, spec.fee_cents, spec.currency, position,
        )
