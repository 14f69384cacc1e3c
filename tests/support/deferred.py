"""Deferred visitor requests in tests: decide them as a worker would, without one."""
from sqlalchemy import select

from portal.deferred import tasks
from portal.deferred.models import DeferredRequest
from portal.extensions import db


def decide_requests(app) -> list[str]:
    """Run the task for every waiting request, oldest first; returns what each handler did."""
    with app.app_context():
        ids = list(db.session.scalars(select(DeferredRequest.id).order_by(DeferredRequest.id)))
        outcomes = [tasks.handle_deferred_request(request_id) for request_id in ids]
        db.session.remove()
        return outcomes
