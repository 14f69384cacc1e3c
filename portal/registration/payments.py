"""Payment status per registration, as organisers record it.

The portal takes no money: fees are paid however the event file says (invoice,
at the door, an external payment page) and an organiser records the outcome here.
"""
from dataclasses import dataclass
from datetime import date

from portal.extensions import db
from portal.registration.errors import RegistrationError
from portal.registration.models import PaymentStatus, Registration

NOTE_LIMIT = 500


class PaymentNotRecorded(RegistrationError):
    """The change makes no sense (unknown status, missing date, note too long); nothing was written."""


@dataclass(frozen=True)
class PaymentChange:
    before: str
    after: str
    paid_on: date | None
    note_changed: bool

    def describe(self) -> dict:
        """For the audit log: the statuses and date, not the note's text."""
        return {"from": self.before, "to": self.after,
                "date": self.paid_on.isoformat() if self.paid_on else None, "note_changed": self.note_changed}


def record_payment(registration_id: int, status: str, paid_on: date | None, note: str) -> PaymentChange:
    """Set a registration's payment status; paid and waived need the date it happened, unpaid has none."""
    registration = db.session.get(Registration, registration_id)
    if registration is None:
        raise PaymentNotRecorded("no such registration")
    if status not in {s.value for s in PaymentStatus}:
        raise PaymentNotRecorded(f"unknown payment status {status!r}")
    note = (note or "").strip()
    if len(note) > NOTE_LIMIT:
        raise PaymentNotRecorded(f"the note is longer than {NOTE_LIMIT} characters")
    if status == PaymentStatus.UNPAID.value:
        paid_on = None
    elif paid_on is None:
        raise PaymentNotRecorded(f"a {status} registration needs the date")
    change = PaymentChange(registration.payment_status, status, paid_on, note != registration.payment_note)
    registration.payment_status, registration.paid_on, registration.payment_note = status, paid_on, note
    db.session.flush()
    return change
