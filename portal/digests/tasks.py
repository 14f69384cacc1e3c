"""Digest tasks: start an edition (beat), compose it batch by batch, and watch it finish.

Each task takes ids or a frequency, calls one service and commits. The
compose task publishes its successor only after its own batch committed,
so the chain is at most one batch ahead of what the database knows; its
digests go to the outbox's bulk lane. The minutely `advance_digest_editions`
restarts a chain a crash broke. These tasks run on the bulk lane's queue, so a
mailing never takes a process from transactional mail.
"""
from celery import shared_task
from flask import current_app

from portal.celery_app import enqueue_after_commit, publish
from portal.digests import service
from portal.extensions import db
from portal.resources.linkcheck import check_catalog_links


@shared_task(name="portal.digests.start_edition")
def start_edition(frequency: str) -> int:
    """Beat's weekly or monthly start: check the catalog's links once, then compose."""
    edition, created = service.start_edition(frequency)
    db.session.commit()
    if created and current_app.config["DIGEST_CHECK_LINKS_FIRST"]:
        # Before composing, so a link that broke since the daily check stays out.
        check_catalog_links()
        db.session.commit()
    if created:
        publish(compose_digest_batch, edition.id)
    return edition.id


@shared_task(name="portal.digests.compose_batch")
def compose_digest_batch(edition_id: int) -> dict:
    """Compose one batch of digests into the outbox's bulk lane, then start the next batch."""
    result = service.compose_next_batch(edition_id)
    if not result.finished:
        enqueue_after_commit(compose_digest_batch, edition_id)
    db.session.commit()
    return {"queued": result.queued, "skipped": result.skipped, "finished": result.finished}


@shared_task(name="portal.digests.advance_editions")
def advance_digest_editions() -> int:
    """Beat, every minute: refresh the counts of editions in progress and resume stalled ones.

    An edition still composing gets one compose task; if its chain is alive the
    extra task waits for the edition lock, finds the checkpoint moved, and
    composes the next batch instead, which is harmless.
    """
    resumed = 0
    for edition_id in service.editions_in_progress():
        edition = service.refresh_edition(edition_id)
        db.session.commit()
        if service.is_stalled(edition):
            publish(compose_digest_batch, edition_id)
            resumed += 1
    return resumed
