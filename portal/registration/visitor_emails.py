"""The emails any visitor can cause, decided by a task after the response (portal.deferred).

A registration POST names the email it decided on ("you are registered", "you
are on the waiting list", "confirm your address", "you are already
registered"); "lost your link?" asks for fresh manage links. Both are handled
here, under row locks, with a daily cap per registration on what strangers can
make the portal send.
"""
from datetime import timedelta

from flask import current_app
from sqlalchemy import func, select

from portal.database import select_for_update, utcnow
from portal.extensions import db
from portal.mail.models import OutgoingEmail
from portal.mail.validation import address_key
from portal.registration import emails
from portal.registration.errors import (
    UnknownRegistration,
)
from portal.registration.models import (
    Registration,
)

from portal.registration.service import (
    ALREADY_REGISTERED_EMAIL, CANCELLED, CONFIRMATION_EMAIL, VERIFY_EMAIL, WAITLISTED_EMAIL,
    _lock_registration, waitlist_position,
)


def send_registration_email(email: str, payload: dict) -> str:
    """Render and queue the email a registration POST decided on; returns what it did.

    Under the event lock, like the POST: the registration cannot change while
    it is read, and the daily cap on "you are already registered" is counted
    one request at a time. An email whose news is stale by now is not sent:
    the registration was cancelled, or a promotion or confirmation email
    already told its owner more.
    """
    try:
        registration, _ = _lock_registration(payload["registration_id"])
    except UnknownRegistration:
        return "gone"
    which = payload["email"]
    if registration.is_cancelled:
        return "cancelled"
    if which == ALREADY_REGISTERED_EMAIL:
        if not under_daily_email_cap(registration.id, "registration_already_registered"):
            return "capped"
        emails.send_already_registered(registration, waitlist_position(registration), to=registration.email)
    elif which == VERIFY_EMAIL:
        if not registration.is_on_hold:
            return "superseded"
        emails.send_verify_request(registration, waitlist_position(registration), to=registration.email)
    elif which == CONFIRMATION_EMAIL:
        if not registration.is_confirmed or registration.is_on_hold:
            return "superseded"
        emails.send_confirmation(registration, to=registration.email)
    elif which == WAITLISTED_EMAIL:
        if not registration.is_waitlisted or registration.is_on_hold:
            return "superseded"
        full_day_ids = set(payload.get("full_day_ids", ()))
        full_days = [day for day in registration.days if day.id in full_day_ids]
        emails.send_waitlisted(registration, waitlist_position(registration), full_days, to=registration.email)
    else:
        raise ValueError(f"unknown registration email {which!r}")
    return "sent"


LOST_LINK_REQUEST = "registration.lost_link"


def handle_lost_link_request(email: str, payload: dict) -> str:
    """"Lost your link?", decided after the response (portal.deferred): a fresh link per active registration.

    The new link revokes the older ones (token_version), so a link that
    leaked stops working once its owner asks for another. Each registration
    gets at most REGISTRATION_VISITOR_EMAILS_PER_DAY such emails a day,
    however many people type the address in.
    """
    now = utcnow()
    # Hazard: tasks for one address running at once would each count the links sent
    # so far and each send one more. Their row locks make them count one after the
    # other (taken in id order, so two such tasks cannot deadlock). Only the ids are
    # selected FOR UPDATE: PostgreSQL refuses it on the registration's joined loads.
    locked_ids = select_for_update(
        select(Registration.id)
        .where(Registration.email_key == address_key(email), Registration.status != CANCELLED)
        .order_by(Registration.id),
        timeout_ms=current_app.config["REGISTRATION_LOCK_TIMEOUT_MS"],
    ).scalars().all()
    registrations = [db.session.get(Registration, registration_id) for registration_id in locked_ids]
    outcome = "unknown"
    for registration in registrations:
        if registration.event.ends_at <= now:
            continue
        if not under_daily_email_cap(registration.id, "registration_link"):
            outcome = "capped" if outcome == "unknown" else outcome
            continue
        registration.token_version += 1
        emails.send_manage_link(registration, waitlist_position(registration), to=registration.email)
        outcome = "sent"
    db.session.flush()
    return outcome


def under_daily_email_cap(registration_id: int, email_name: str) -> bool:
    """Fewer than REGISTRATION_VISITOR_EMAILS_PER_DAY emails of this kind for this registration in 24 hours.

    Counted in the outbox (by cause), so the cap holds across processes and without Redis.
    """
    sent = db.session.scalar(
        select(func.count()).select_from(OutgoingEmail).where(
            OutgoingEmail.cause_kind == "registration",
            OutgoingEmail.cause_id == registration_id,
            OutgoingEmail.name == email_name,
            OutgoingEmail.created_at > utcnow() - timedelta(hours=24),
        )
    )
    return sent < current_app.config["REGISTRATION_VISITOR_EMAILS_PER_DAY"]
