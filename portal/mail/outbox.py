"""Queue emails inside the caller's transaction; hand them to Celery only after it commits.

`queue_email` adds an OutgoingEmail row to the current session. The ids wait in
`session.info` until the transaction commits (a rollback forgets them), and
`dispatch_committed_emails` publishes them after the request or task is done.
Publishing never happens inside an SQLAlchemy hook: a broker error there could
not be handled, and the hook runs while the session is mid-commit. If the broker
is down the rows simply stay queued and the periodic sweeper sends them later.
"""
import logging
from dataclasses import dataclass
from email.utils import make_msgid
from functools import wraps
from urllib.parse import urlsplit

from flask import Flask, current_app
from flask_sqlalchemy.session import Session
from sqlalchemy import event

from portal.extensions import db
from portal.mail.models import OutgoingEmail, OutgoingEmailAttachment
from portal.mail.render import render_email
from portal.mail.validation import check_address, check_attachment, check_header_value, check_headers

log = logging.getLogger(__name__)

_PENDING = "outbox.pending"  # flushed in the open transaction
_COMMITTED = "outbox.committed"  # committed, not yet handed to the broker
# Ids per delivery task: each task is one claim, one SMTP session and one
# commit of outcomes, so bigger batches cost less per message; a worker that
# dies mid-batch means at most this many messages are sent twice.
DISPATCH_CHUNK = 100


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str
    data: bytes
    content_id: str | None = None


def queue_email(
    name: str,
    to: str,
    context: dict,
    attachments: list[Attachment] | tuple = (),
    headers: dict | None = None,
) -> OutgoingEmail:
    """Render `templates/email/<name>/` and write it to the outbox in the current transaction.

    Raises InvalidEmailError (before anything is written) when the recipient is
    not one address, or a header, filename or content id could inject a header.
    """
    check_address("recipient", to)
    check_headers(dict(headers or {}))
    for attachment in attachments:
        check_attachment(attachment.filename, attachment.content_type, attachment.content_id)
    rendered = render_email(name, context)
    check_header_value("subject", rendered.subject)
    domain = urlsplit(current_app.config["PORTAL_BASE_URL"]).hostname or "portal.localhost"
    email = OutgoingEmail(
        name=name,
        to_address=to,
        from_address=current_app.config["MAIL_DEFAULT_SENDER"],
        subject=rendered.subject,
        body_text=rendered.text,
        body_html=rendered.html,
        headers=dict(headers or {}),
        message_id=make_msgid(domain=domain),
        attachments=[
            OutgoingEmailAttachment(
                filename=a.filename, content_type=a.content_type, data=a.data, content_id=a.content_id
            )
            for a in attachments
        ],
    )
    db.session.add(email)
    db.session.flush()
    db.session.info.setdefault(_PENDING, []).append(email.id)
    return email


def email(name: str):
    """Declare an email: the decorated function returns the template context.

    Calling the result queues the message: `send_x(..., to=address)`. A context
    key `attachments` (a list of Attachment) and `headers` are taken out of the
    context and attached to the message.
    """

    def decorator(build_context):
        @wraps(build_context)
        def send(*args, to: str, **kwargs) -> OutgoingEmail:
            context = dict(build_context(*args, **kwargs))
            attachments = context.pop("attachments", ())
            headers = context.pop("headers", None)
            return queue_email(name, to, context, attachments=attachments, headers=headers)

        send.build_context = build_context
        send.email_name = name
        return send

    return decorator


def _after_commit(session):
    pending = session.info.pop(_PENDING, None)
    if pending:
        session.info.setdefault(_COMMITTED, []).extend(pending)


def _after_rollback(session):
    session.info.pop(_PENDING, None)


def dispatch_committed_emails() -> None:
    """Publish delivery tasks for every committed outbox row of this session."""
    ids = db.session.info.pop(_COMMITTED, None)
    if not ids:
        return
    dispatch_ids(ids)


def dispatch_ids(ids: list[int]) -> bool:
    """Hand ids to the mail queue; False when the broker could not take them."""
    from worker.tasks import deliver_emails

    try:
        for start in range(0, len(ids), DISPATCH_CHUNK):
            deliver_emails.apply_async(args=[ids[start : start + DISPATCH_CHUNK]], retry=False)
    except Exception as exc:  # the broker is down: the sweeper will pick these rows up
        log.warning("could not dispatch %d outbox id(s), the sweeper will retry them: %s", len(ids), exc)
        return False
    return True


def init_app(app: Flask) -> None:
    if not getattr(Session, "_outbox_events", False):
        event.listen(Session, "after_commit", _after_commit)
        event.listen(Session, "after_rollback", _after_rollback)
        Session._outbox_events = True

    @app.after_request
    def _dispatch_after_request(response):
        dispatch_committed_emails()
        return response
