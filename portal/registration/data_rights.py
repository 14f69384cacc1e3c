"""An attendee's data rights from the manage link: a copy of everything held, and erasure.

Erasure empties the same columns the retention purge empties (the registry in
portal.retention lists them), so the two cannot disagree about what names someone.
"""
from datetime import datetime

from sqlalchemy import select

from portal.database import utcnow
from portal.deliverability.models import DeliveryEvent
from portal.extensions import db
from portal.mail.models import OutgoingEmail
from portal.registration.checkin import check_ins_of
from portal.registration.models import Registration
from portal.registration.service import cancel_registration
from portal.retention.service import anonymise_registrations

ERASED_REASON = "the attendee erased their data"


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat(timespec="seconds") + "Z" if moment else None


def export_registration_data(registration: Registration) -> dict:
    """The registration, its check-ins, and the emails sent about it, as JSON-ready data."""
    mail = list(db.session.scalars(
        select(OutgoingEmail)
        .where(OutgoingEmail.cause_kind == "registration", OutgoingEmail.cause_id == registration.id)
        .order_by(OutgoingEmail.id)
    ))
    reports = db.session.scalars(
        select(DeliveryEvent).where(DeliveryEvent.email_id.in_([row.id for row in mail])).order_by(DeliveryEvent.id)
    ) if mail else []
    event = registration.event
    return {
        "exported_at": _iso(utcnow()),
        "registration": {
            "event": event.title,
            "code": registration.code,
            "first_name": registration.first_name,
            "last_name": registration.last_name,
            "email": registration.email,
            "organization": registration.organization,
            "job_title": registration.job_title,
            "category": registration.category.label,
            "days": [day.date.isoformat() for day in registration.days],
            "dietary": registration.dietary,
            "accessibility": registration.accessibility,
            "status": registration.status,
            "payment_status": registration.payment_status,
            "paid_on": registration.paid_on.isoformat() if registration.paid_on else None,
            "payment_note": registration.payment_note,
            "privacy_policy_version": registration.privacy_policy_version,
            "privacy_accepted_at": _iso(registration.privacy_accepted_at),
            "created_at": _iso(registration.created_at),
            "confirmed_at": _iso(registration.confirmed_at),
            "waitlisted_at": _iso(registration.waitlisted_at),
            "cancelled_at": _iso(registration.cancelled_at),
            "email_confirmed_at": _iso(registration.email_confirmed_at),
        },
        "check_ins": [{"day": check_in.day.date.isoformat(), "at": _iso(check_in.checked_in_at)}
                      for check_in in check_ins_of(registration.id)],
        "emails": [
            {"at": _iso(row.created_at), "name": row.name, "to": row.to_address, "subject": row.subject,
             "text": row.body_text, "status": row.status, "sent_at": _iso(row.sent_at)}
            for row in mail
        ],
        "delivery_reports": [{"at": _iso(report.created_at), "kind": report.kind, "status": report.status_code,
                              "diagnostic": report.diagnostic} for report in reports],
    }


def erase_registration(registration_id: int) -> list[Registration]:
    """Cancel before the event (the waiting list moves up), then empty what names the attendee; returns who was promoted.

    Mail still queued to the attendee, the cancellation notice included, is
    withheld: it would carry the name just erased. The manage link stops working.
    """
    registration = db.session.get(Registration, registration_id)
    # After the event nothing is held any more: the registration stays in the counts, anonymous.
    active = not registration.is_cancelled and registration.event.ends_at > utcnow()
    promoted = cancel_registration(registration_id, by_organiser=True) if active else []
    anonymise_registrations([registration_id], ERASED_REASON)
    db.session.expire(registration)
    return promoted
