"""Decide deferred requests: each kind's handler is registered by its domain."""
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import delete, select

from portal.database import utcnow
from portal.deferred.models import DeferredRequest
from portal.extensions import db
from portal.links import links_based_on

# kind -> handler(email, payload) returning what it did ("sent", "unknown", "capped"...).
# Filled by each domain's init_app: configuration, the same in every process.
_HANDLERS: dict[str, Callable[[str, dict], str]] = {}


class UnknownRequestKind(LookupError):
    """No domain registered a handler for this kind."""


def register_handler(kind: str, handler: Callable[[str, dict], str]) -> None:
    _HANDLERS[kind] = handler


def handle_request(request_id: int) -> str:
    """Decide one request and delete it; returns what the handler did (for logs and tests).

    Deleting first makes a second worker holding the same id (at-least-once
    delivery) find nothing to do: on PostgreSQL its DELETE waits for ours and
    then counts zero rows.
    """
    request = db.session.get(DeferredRequest, request_id)
    if request is None:
        return "gone"
    kind, email, payload = request.kind, request.email, dict(request.payload)
    handler = _HANDLERS.get(kind)
    if handler is None:
        raise UnknownRequestKind(kind)
    if not db.session.execute(delete(DeferredRequest).where(DeferredRequest.id == request_id)).rowcount:
        return "gone"
    with links_based_on(payload.pop("base_url", None)):
        return handler(email, payload)


def stale_request_ids(older_than: timedelta) -> list[int]:
    """Requests whose task never ran (broker down, worker killed): the sweeper re-publishes them."""
    cutoff = utcnow() - older_than
    return list(db.session.scalars(
        select(DeferredRequest.id).where(DeferredRequest.created_at < cutoff).order_by(DeferredRequest.id)
    ))


def forget_requests_from(email_key: str) -> None:
    """Drop waiting requests typed with this address (erasure)."""
    db.session.execute(delete(DeferredRequest).where(DeferredRequest.email_key == email_key))
