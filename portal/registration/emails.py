"""Every email a registrant can get. Each function returns its template context.

Call them like `send_confirmation(registration, to=registration.email)`: the
`email` decorator renders templates/email/<name>/ and writes the message to
the outbox in the caller's transaction, so an email exists if and only if the
change that caused it was committed. Links are absolute (PORTAL_BASE_URL) and
built without a request, so the same code works from a request, a task or
the shell.
"""
import io

import segno
from flask import current_app

from portal.links import absolute_url
from portal.mail import Attachment, Cause, EmailContent, email, sender_domain
from portal.registration.ics import cancellation_calendar, content_type, registration_calendar
from portal.registration.tokens import make_manage_token, make_verify_token
from portal.resources.highlights import email_highlights


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


def _content(registration, attachments=(), **extra) -> EmailContent:
    """Every registration email is caused by its registration."""
    return EmailContent(
        _context(registration, **extra), attachments=attachments, cause=Cause("registration", registration.id)
    )


def calendar_attachment(filename: str, calendar: bytes) -> Attachment:
    return Attachment(filename, content_type(calendar), calendar)


def _seat_content(registration, extra_attachments=(), **extra) -> EmailContent:
    """For emails that leave the attendee with a seat: QR code inline, .ics attached.

    The costly part of a confirmation (about 2 ms of CPU), which is why the
    registration POST leaves it to a task.
    """
    qr_cid = f"checkin-{registration.code}@{sender_domain()}"
    calendar = registration_calendar(registration, absolute_url("registration.lost_link"), event_url(registration.event))
    seat_attachments = [
        Attachment(f"check-in-{registration.code}.png", "image/png", checkin_qr_png(registration.code), qr_cid),
        calendar_attachment(f"{registration.event.slug}.ics", calendar),
    ]
    return _content(registration, attachments=[*seat_attachments, *extra_attachments], qr_cid=qr_cid, **extra)


#: Catalog highlights a confirmation carries (policy and regulatory ones first).
CONFIRMATION_HIGHLIGHTS = 3


@email("registration_confirmed")
def send_confirmation(registration):
    return _seat_content(registration, highlights=email_highlights(CONFIRMATION_HIGHLIGHTS))


@email("registration_waitlisted")
def send_waitlisted(registration, position: int, full_days):
    return _content(registration, position=position, full_days=full_days)


@email("registration_promoted")
def send_promoted(registration):
    return _seat_content(registration)


@email("registration_changed")
def send_changed(registration, changes: list[str], position: int | None, dropped_days=()):
    """`dropped_days`: days a seat holder gave up; a second calendar file withdraws them."""
    if not registration.is_confirmed:
        return _content(registration, changes=changes, position=position)
    withdrawal = []
    if dropped_days:
        calendar = cancellation_calendar(registration, dropped_days)
        withdrawal = [calendar_attachment(f"{registration.event.slug}-dropped-days.ics", calendar)]
    return _seat_content(
        registration, extra_attachments=withdrawal, changes=changes, position=position, dropped_days=list(dropped_days)
    )


@email("registration_cancelled")
def send_cancelled(registration):
    calendar = cancellation_calendar(registration)
    return _content(
        registration,
        attachments=[calendar_attachment(f"{registration.event.slug}-cancelled.ics", calendar)],
    )


@email("registration_already_registered")
def send_already_registered(registration, position: int | None):
    return _content(registration, position=position)


@email("registration_link")
def send_manage_link(registration, position: int | None):
    return _content(registration, position=position)


@email("registration_verify")
def send_verify_request(registration, position: int | None):
    """REGISTRATION_CONFIRM_EMAIL: "press the button to keep your seat"; the confirmation follows."""
    token = make_verify_token(registration.code, registration.token_version)
    return _content(
        registration, position=position, verify_url=absolute_url("registration.verify_email", token=token),
        hold_hours=current_app.config["REGISTRATION_HOLD_HOURS"],
    )
