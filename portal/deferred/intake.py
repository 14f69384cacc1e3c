"""Write a visitor's request in the caller's transaction; its task runs after the commit."""
from flask import current_app, has_request_context

from portal.celery_app import enqueue_after_commit
from portal.deferred.models import DeferredRequest
from portal.deferred.tasks import handle_deferred_request
from portal.extensions import db
from portal.links import base_url
from portal.mail.validation import address_key, check_address


def defer_request(kind: str, email: str, payload: dict | None = None) -> None:
    # Callers pass a validated form; an address that could still inject a header is a bug
    # there, and must fail now rather than in a task that the sweeper would retry forever.
    check_address("email", email)
    payload = dict(payload or {})
    if has_request_context() and not current_app.config["PORTAL_BASE_URL"]:
        # Development: the task's links should open on the address this request came to.
        payload["base_url"] = base_url()
    request = DeferredRequest(kind=kind, email=email, email_key=address_key(email), payload=payload)
    db.session.add(request)
    db.session.flush()
    enqueue_after_commit(handle_deferred_request, request.id)
