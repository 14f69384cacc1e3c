"""Decide deferred requests, and sweep up requests whose task never ran."""
from datetime import timedelta

from celery import shared_task

from portal.celery_app import publish
from portal.deferred import service
from portal.extensions import db

# A request still waiting after this long lost its task (broker down, worker killed).
STALE_AFTER = timedelta(seconds=30)


@shared_task(name="portal.deferred.handle_request")
def handle_deferred_request(request_id: int) -> str:
    outcome = service.handle_request(request_id)
    db.session.commit()
    return outcome


@shared_task(name="portal.deferred.sweep_requests")
def sweep_deferred_requests() -> int:
    """Re-publish stale requests (beat); returns how many were handed to the broker."""
    published = 0
    for request_id in service.stale_request_ids(STALE_AFTER):
        if not publish(handle_deferred_request, request_id):
            break
        published += 1
    return published
