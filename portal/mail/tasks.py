"""Mail tasks: deliver outbox rows in their lane, and sweep up what was not delivered.

Tasks take ids and call the delivery service. The claim is committed before
any SMTP traffic; each outcome is committed as it happens (the service does, so
that a worker killed mid-batch loses at most the message on the wire).
"""
import time

from celery import shared_task

from portal.celery_app import publish
from portal.extensions import db
from portal.mail import delivery
from portal.mail.models import Lane

# Ids per delivery task: one claim and one SMTP session each.
DELIVERY_BATCH = 100
# A released bulk batch due within this many seconds is handed back to the bulk queue at
# once (with a countdown); a later one waits for the sweeper.
REPUBLISH_WITHIN_SECONDS = 60


def delivery_task(lane: Lane):
    return deliver_bulk_emails if lane is Lane.BULK else deliver_emails


@shared_task(name="portal.deliver_emails")
def deliver_emails(email_ids: list[int]) -> dict:
    """Transactional lane: send the due rows among `email_ids` as fast as the relay takes them."""
    return _deliver(deliver_emails, email_ids, paced=False)


@shared_task(name="portal.deliver_bulk_emails")
def deliver_bulk_emails(email_ids: list[int]) -> dict:
    """Bulk lane: the same, paced by MAIL_BULK_RATE and giving the process back within seconds."""
    return _deliver(deliver_bulk_emails, email_ids, paced=True)


def _deliver(task, email_ids: list[int], paced: bool) -> dict:
    for start in range(DELIVERY_BATCH, len(email_ids), DELIVERY_BATCH):
        publish(task, email_ids[start : start + DELIVERY_BATCH])
    claimed = delivery.claim_emails(email_ids[:DELIVERY_BATCH])
    # The claim must be visible to every other worker before any SMTP traffic.
    db.session.commit()
    if not claimed:
        return delivery.BatchOutcome().counts()
    outcome = delivery.deliver_batch(delivery.load_batch(claimed), paced=paced)
    if outcome.released:
        wait = max(outcome.released_until - time.time(), 0)
        if wait <= REPUBLISH_WITHIN_SECONDS:
            publish(task, outcome.released, countdown=wait)
    return outcome.counts()


@shared_task(name="portal.sweep_outbox")
def sweep_outbox() -> int:
    """Re-publish due and abandoned rows of each lane (beat); returns how many ids were handed to the broker."""
    delivery.give_up_on_abandoned_rows()
    due = {lane: delivery.due_email_ids(lane) for lane in Lane}
    db.session.commit()
    published = 0
    for lane, ids in due.items():
        for start in range(0, len(ids), DELIVERY_BATCH):
            chunk = ids[start : start + DELIVERY_BATCH]
            if not publish(delivery_task(lane), chunk):
                return published
            published += len(chunk)
    return published
