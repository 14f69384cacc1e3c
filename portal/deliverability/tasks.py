"""Deliverability tasks: read the bounce mailbox (beat, every BOUNCE_POLL_SECONDS when one is configured)."""
import logging

from celery import shared_task

from portal.deliverability import intake

log = logging.getLogger(__name__)


@shared_task(name="portal.deliverability.poll_bounce_mailbox")
def poll_bounce_mailbox() -> dict:
    """One poll; each message is committed by the poll itself, before it is deleted from the mailbox."""
    result = intake.poll_bounce_mailbox()
    if result.error:
        # Nothing is lost: what was not processed is still in the mailbox for the next poll.
        log.warning("bounce mailbox poll stopped: %s", result.error)
    return result.as_dict()
