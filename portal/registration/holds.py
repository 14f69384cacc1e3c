"""Holds until the address is confirmed (REGISTRATION_CONFIRM_EMAIL).

A new registration holds its seat (or place in line) until the registrant opens
the emailed link; holds never confirmed are released by a beat task, and the
seat goes to the waiting list.
"""

from sqlalchemy import select

from portal.database import utcnow
from portal.extensions import db
from portal.registration import emails
from portal.registration.models import Registration
from portal.registration.service import (
    CANCELLED,
    _lock_registration,
    _promote_locked,
    count_seats,
    registration_for_link,
    waitlist_position,
)
from portal.registration.tokens import read_verify_token


# --- Holds until the address is confirmed (REGISTRATION_CONFIRM_EMAIL) -----------------


def registration_from_verify_token(token: str) -> Registration:
    return registration_for_link(*read_verify_token(token), replaced="a newer link was sent")


def confirm_email(registration_id: int) -> bool:
    """The registrant pressed the button: the hold ends and the usual email goes out.

    False when there was nothing to confirm (done already, or the hold was
    released). Under the event lock, so it cannot cross the release of the
    same hold.
    """
    registration, _ = _lock_registration(registration_id)
    if not registration.is_on_hold:
        return False
    registration.email_confirmed_at = utcnow()
    registration.hold_expires_at = None
    db.session.flush()
    if registration.is_confirmed:
        emails.send_confirmation(registration, to=registration.email)
    else:
        emails.send_waitlisted(registration, waitlist_position(registration), [], to=registration.email)
    return True


def expired_hold_ids() -> list[int]:
    return list(db.session.scalars(
        select(Registration.id).where(
            Registration.hold_expires_at < utcnow(),
            Registration.email_confirmed_at.is_(None),
            Registration.status != CANCELLED,
        ).order_by(Registration.id)
    ))


def release_hold(registration_id: int) -> list[Registration]:
    """Cancel a registration whose address was never confirmed, and promote; returns who was promoted.

    Nobody is emailed about the release itself: the address may well be made up.
    """
    registration, overall_capacity = _lock_registration(registration_id)
    if not registration.is_on_hold or registration.hold_expires_at >= utcnow():
        return []
    registration.status = CANCELLED
    registration.cancelled_at = utcnow()
    registration.hold_expires_at = None
    db.session.flush()
    return _promote_locked(registration.event_id, count_seats(registration.event_id, overall_capacity))
