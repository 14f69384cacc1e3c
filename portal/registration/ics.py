"""The .ics calendar file attached to confirmations (RFC 5545, via icalendar).

One VEVENT per registered day, because the days have different hours. Each
UID is "<registration code>-day<n>@<sender's domain>": the same in every email,
so a calendar that imports a later file updates the entry instead of adding a
second one, and the cancellation's METHOD:CANCEL file removes it.
"""
import re
from datetime import date, datetime, timezone
from functools import lru_cache
from email.utils import parseaddr

import icalendar
from flask import current_app

from portal.database import utcnow
from portal.mail import sender_domain

PRODID = "-//Summit Portal//Policy Summit registration//EN"

_METHOD_LINE = re.compile(rb"^METHOD:([A-Z-]+)\r?$", re.MULTILINE)


def day_uid(code: str, position: int) -> str:
    return f"{code}-day{position}@{sender_domain()}"


def content_type(calendar: bytes) -> str:
    """The MIME type to attach a calendar file with (RFC 6047): its charset and its iTIP method.

    Without the charset a reader decodes the file as ASCII (the en dash of every
    summary becomes U+FFFD); without the method, mail clients show a plain
    attachment instead of an event card that adds, updates or removes the entry.
    The method is read from the file itself, so the two cannot disagree.
    """
    return f"text/calendar; charset=utf-8; method={_METHOD_LINE.search(calendar).group(1).decode('ascii')}"


@lru_cache(maxsize=16)
def vtimezone(tzid: str, first_year: int, last_year: int) -> icalendar.Timezone:
    """RFC 5545 wants a VTIMEZONE for every TZID used; icalendar derives it from zoneinfo.

    Covering only the event's years keeps the file small. Built once per zone
    and years, then shared read-only by every calendar file.
    """
    return icalendar.Timezone.from_tzid(tzid, first_date=date(first_year, 1, 1), last_date=date(last_year + 1, 1, 1))


def organizer() -> icalendar.vCalAddress:
    """iTIP (RFC 5546) wants an ORGANIZER on published and cancelled entries: the portal's sender."""
    name, address = parseaddr(current_app.config["MAIL_DEFAULT_SENDER"])
    value = icalendar.vCalAddress(f"mailto:{address}")
    if name:
        value.params["cn"] = icalendar.vText(name)
    return value


def revision(registration) -> int:
    """The SEQUENCE of the entries in a file sent now.

    Calendars apply an update or a cancellation only when its SEQUENCE is not
    lower than what they hold. Seconds since the registration was made only
    ever grow, so every later file outranks the earlier ones without a counter
    kept in the database.
    """
    return max(int((utcnow() - registration.created_at).total_seconds()), 0)


def _calendar(event, method: str) -> icalendar.Calendar:
    calendar = icalendar.Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", method)
    calendar.add_component(vtimezone(event.timezone, event.first_day.date.year, event.last_day.date.year))
    return calendar


def _day_entry(registration, day, stamp: datetime, sequence: int) -> icalendar.Event:
    """What every file says about one day: which entry (UID), which revision, and when."""
    entry = icalendar.Event()
    entry.add("uid", day_uid(registration.code, day.position))
    entry.add("dtstamp", stamp)
    entry.add("sequence", sequence)
    entry.add("organizer", organizer())
    entry.add("dtstart", day.local_start)
    entry.add("dtend", day.local_end)
    return entry


def registration_calendar(registration, lost_link_url: str, event_url: str) -> bytes:
    """The attendee's days, to add to a calendar.

    No manage link inside: calendar entries get shared and synced to places
    an email does not go. The description says where to get a link instead.
    """
    event = registration.event
    calendar = _calendar(event, "PUBLISH")
    stamp = datetime.now(timezone.utc)
    sequence = revision(registration)
    description = (
        f"Registration code: {registration.code}\n"
        f"{registration.full_name}, {registration.category.label}\n"
        f"To view, change or cancel your registration, use the link in your confirmation email, "
        f"or ask for a new one at {lost_link_url}"
    )
    for day in registration.days:
        entry = _day_entry(registration, day, stamp, sequence)
        entry.add("summary", f"{event.title} – {day.label}")
        entry.add("location", event.location)
        entry.add("description", description)
        entry.add("url", event_url)
        entry.add("status", "CONFIRMED")
        entry.add("transp", "OPAQUE")
        calendar.add_component(entry)
    return calendar.to_ical()


def cancellation_calendar(registration, days=None) -> bytes:
    """METHOD:CANCEL for the given days (all of the registration's by default): calendars drop them."""
    event = registration.event
    calendar = _calendar(event, "CANCEL")
    stamp = datetime.now(timezone.utc)
    # One more than any file sent for this registration so far, even one sent this very second.
    sequence = revision(registration) + 1
    for day in registration.days if days is None else days:
        entry = _day_entry(registration, day, stamp, sequence)
        entry.add("summary", f"Cancelled: {event.title} – {day.label}")
        entry.add("status", "CANCELLED")
        calendar.add_component(entry)
    return calendar.to_ical()
