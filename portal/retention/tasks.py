"""Retention task: the daily purge (beat), also run by `flask --app portal purge`."""
from celery import shared_task

from portal.database import utcnow
from portal.extensions import db
from portal.retention import service


@shared_task(name="portal.retention.purge")
def purge() -> dict:
    """Apply every period, committing after each batch so that no lock is held for long."""
    counts = {r.kind: 0 for r in service.RULES}
    for kind, changed in service.purge_batches(utcnow()):
        db.session.commit()
        counts[kind] += changed
    service.record_run(counts)
    db.session.commit()
    return counts
