"""Mail tasks: deliver outbox rows, and sweep up what was not delivered.

Tasks take ids and call the delivery service; they own the transactions
(the claim is committed before any SMTP traffic, the outcome after).
"""
from celery import shared_task

from portal.celery_app import publish
from portal.extensions import db
from portal.mail import delivery

# Ids per delivery task: each task is one claim and one SMTP session, so bigger
# batches cost less per message. Progress is committed after every message
# (delivery.PROGRESS_EVERY), so a worker that dies mid-batch sends at most that
# many twice, not the whole batch.
DELIVERY_BATCH = 100


@shared_task(name="portal.deliver_emails")
def deliver_emails(email_ids: list[int]) -> dict:
    """Send the due rows among `email_ids`; a longer list is fanned out to other workers first."""
    for start in range(DELIVERY_BATCH, len(email_ids), DELIVERY_BATCH):
        publish(deliver_emails, email_ids[start : start + DELIVERY_BATCH])
    claimed = delivery.claim_emails(email_ids[:DELIVERY_BATCH])
    # The claim must be visible to every other worker before any SMTP traffic.
    db.session.commit()
    if not claimed:
        return delivery.BatchOutcome().counts()
    return deliver_now(delivery.load_batch(claimed))


def deliver_now(rows: list[delivery.PendingEmail]) -> dict:
    """Send rows claimed by this worker and committed, and commit every outcome.

    deliver_emails's second half, also for a task that queued its own messages
    claimed (portal.mail.outbox.queue_claimed) and sends them itself. What the
    lease left no time for is handed to deliver_emails.
    """
    if not rows:
        return delivery.BatchOutcome().counts()
    try:
        outcome = delivery.deliver_pending(rows, checkpoint=db.session.commit)
    finally:
        # Also when the batch stopped on an unexpected error: the service has
        # recorded what the server accepted, and it must be committed, or it is
        # sent again once the lease expires.
        db.session.commit()
    if outcome.released:
        publish(deliver_emails, outcome.released)
    return outcome.counts()


@shared_task(name="portal.sweep_outbox")
def sweep_outbox() -> int:
    """Re-publish due and abandoned rows (beat); returns how many ids were handed to the broker."""
    delivery.give_up_on_abandoned_rows()
    ids = delivery.due_email_ids()
    db.session.commit()
    published = 0
    for start in range(0, len(ids), DELIVERY_BATCH):
        chunk = ids[start : start + DELIVERY_BATCH]
        if not publish(deliver_emails, chunk):
            break
        published += len(chunk)
    return published
