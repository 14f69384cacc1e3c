"""Registration tasks: release seats held for addresses that were never confirmed."""
from celery import shared_task

from portal.extensions import db
from portal.registration import holds


@shared_task(name="portal.registration.release_expired_holds")
def release_expired_holds() -> int:
    """Beat, with REGISTRATION_CONFIRM_EMAIL on: one transaction per hold, so one busy event delays no other."""
    released = 0
    for registration_id in holds.expired_hold_ids():
        holds.release_hold(registration_id)
        db.session.commit()
        released += 1
    return released
