"""Every email a registrant can get. Each function returns its template context.

Call them like `send_confirmation(registration, to=registration.email)`: the
`email` decorator renders templates/email/<name>/ and writes the message to
the outbox in the caller's transaction, so an email exists if and only if the
change that caused it was committed. Links are absolute (PORTAL_BASE_URL) and
built without a request, so the same code works from a request, a task or
the shell.
"""
import io
from dataclasses import dataclass
from urllib.parse import urlsplit

import segno
from flask import current_app

from portal.mail import Attachment, email
from portal.registration.ics import cancellation_calendar, portal_host, registration_calendar
from portal.registration.tokens import make_manage_token


def absolute_url(endpoint: str, **values) -> str:
    base = urlsplit(current_app.config["PORTAL_BASE_URL"])
    adapter = current_app.url_map.bind(base.netloc, script_name=base.path or "/", url_scheme=base.scheme)
    return adapter.build(endpoint, values, force_external=True)


def manage_url(registration) -> str:
    token = make_manage_token(registration.code, registration.token_version)
    return absolute_url("registration.manage", token=token)


def event_url(event) -> str:
    return absolute_url("registration.event_page", slug=event.slug)


QR_SCALE = 6  # pixels per module: a version 1 code with its quiet zone is 174 px square


def checkin_qr_png(code: str) -> bytes:
    """The check-in QR code: just the registration code.

    make_qr, not make: for a short text segno would pick a Micro QR code, which
    many phone and desk scanners cannot read.
    """
    buffer = io.BytesIO()
    # A fixed mask skips segno's scoring of all eight masks, half the cost of
    # the code on every registration POST; the scoring only picks the pattern
    # that is easiest for worn-out scanners, and any mask is a valid QR code.
    segno.make_qr(code, error="m", mask=1).save(buffer, kind="png", scale=QR_SCALE, border=4)
    return buffer.getvalue()


def _context(registration, **extra) -> dict:
    return {
        "registration": registration,
        "event": registration.event,
        "manage_url": manage_url(registration),
        "event_url": event_url(registration.event),
        "lost_link_url": absolute_url("registration.lost_link"),
        **extra,
    }


@dataclass(frozen=True)
class SeatFiles:
    """What an email to someone with a seat carries: the check-in QR code and the calendar file."""

    manage_url: str
    qr_cid: str
    attachments: list[Attachment]


def seat_files(registration) -> SeatFiles:
    """The costly part of a confirmation (about 2 ms of CPU); needs no database."""
    links = manage_url(registration), event_url(registration.event)
    qr_cid = f"checkin-{registration.code}@{portal_host()}"
    return SeatFiles(
        manage_url=links[0],
        qr_cid=qr_cid,
        attachments=[
            Attachment(f"check-in-{registration.code}.png", "image/png", checkin_qr_png(registration.code), qr_cid),
            Attachment(f"{registration.event.slug}.ics", "text/calendar", registration_calendar(registration, *links)),
        ],
    )


def _seat_context(registration, files: SeatFiles | None = None, **extra) -> dict:
    """For emails that leave the attendee with a seat: QR code inline, .ics attached."""
    files = files or seat_files(registration)
    context = _context(registration, **extra)
    context.update(manage_url=files.manage_url, qr_cid=files.qr_cid, attachments=files.attachments)
    return context


@email("registration_confirmed")
def send_confirmation(registration, files: SeatFiles | None = None):
    return _seat_context(registration, files)


@email("registration_waitlisted")
def send_waitlisted(registration, position: int, full_days):
    return _context(registration, position=position, full_days=full_days)


@email("registration_promoted")
def send_promoted(registration):
    return _seat_context(registration)


@email("registration_changed")
def send_changed(registration, changes: list[str], position: int | None, dropped_days=()):
    """`dropped_days`: days a seat holder gave up; a second calendar file withdraws them."""
    if not registration.is_confirmed:
        return _context(registration, changes=changes, position=position)
    context = _seat_context(registration, changes=changes, position=position, dropped_days=list(dropped_days))
    if dropped_days:
        calendar = cancellation_calendar(registration, dropped_days)
        withdrawal = Attachment(f"{registration.event.slug}-dropped-days.ics", "text/calendar", calendar)
        context["attachments"] = [*context["attachments"], withdrawal]
    return context


@email("registration_cancelled")
def send_cancelled(registration):
    calendar = cancellation_calendar(registration)
    return _context(
        registration,
        attachments=[Attachment(f"{registration.event.slug}-cancelled.ics", "text/calendar", calendar)],
    )


@email("registration_already_registered")
def send_already_registered(registration, position: int | None):
    return _context(registration, position=position)


@email("registration_link")
def send_manage_link(registration, position: int | None):
    return _context(registration, position=position)
