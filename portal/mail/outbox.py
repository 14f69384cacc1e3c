"""Declare emails and queue them inside the caller's transaction.

An email is a function that returns its template context (warehouse's
design); `@email(name)` turns it into `send_x(..., to=address)`, which renders
templates/email/<name>/ and writes an OutgoingEmail row in the caller's
transaction. The row's id is published to the delivery task only after that
transaction commits (portal.celery_app.enqueue_item_after_commit), so an email
exists if and only if the change that caused it was committed. If the broker
is down at that moment the row simply stays queued and the outbox sweeper
sends it later.
"""
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from email.utils import make_msgid, parseaddr
from functools import lru_cache, wraps

from flask import current_app

from portal.celery_app import enqueue_item_after_commit
from portal.database import bulk_insert
from portal.extensions import db
from portal.mail import delivery
from portal.mail.models import Lane, OutgoingEmail, OutgoingEmailAttachment
from portal.mail.render import RenderedEmail, render_email
from portal.mail.tasks import delivery_task
from portal.mail.validation import check_address, check_attachment, check_header_value, check_headers
from portal.mail.withhold import register_withhold_check


def sender_domain() -> str:
    """The domain of MAIL_DEFAULT_SENDER, for Message-IDs, calendar UIDs, content ids and List-Id.

    Ids minted under the sender's own domain are ones nobody else mints, and they stay
    the same when the portal moves to another address (a calendar keeps recognising
    its entries); a base URL on an IP address or behind a proxy would say nothing.
    """
    return _domain_of(current_app.config["MAIL_DEFAULT_SENDER"])


@lru_cache(maxsize=8)
def _domain_of(sender: str) -> str:
    domain = parseaddr(sender)[1].rpartition("@")[2].strip().lower()
    if not domain:
        return "portal.localhost"
    # Message-IDs and UIDs are ASCII: an internationalized domain goes in its IDNA form.
    return domain if domain.isascii() else domain.encode("idna").decode("ascii")


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str
    data: bytes
    content_id: str | None = None


@dataclass(frozen=True)
class Cause:
    """What made the portal send a message (e.g. ("registration", 42)), for tracing and admin views."""

    kind: str
    id: int


@dataclass(frozen=True)
class EmailContent:
    """What an email function returns when it has more than a template context to give."""

    context: dict
    attachments: Sequence[Attachment] = ()
    headers: Mapping[str, str] = field(default_factory=dict)
    cause: Cause | None = None


def queue_email(
    name: str,
    to: str,
    context: dict,
    attachments: Sequence[Attachment] = (),
    headers: Mapping[str, str] | None = None,
    cause: Cause | None = None,
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
    email = OutgoingEmail(
        name=name,
        to_address=to,
        from_address=current_app.config["MAIL_DEFAULT_SENDER"],
        subject=rendered.subject,
        body_text=rendered.text,
        body_html=rendered.html,
        headers=dict(headers or {}),
        message_id=make_msgid(domain=sender_domain()),
        cause_kind=cause.kind if cause else None,
        cause_id=cause.id if cause else None,
        attachments=[
            OutgoingEmailAttachment(
                filename=a.filename, content_type=a.content_type, data=a.data, content_id=a.content_id
            )
            for a in attachments
        ],
    )
    db.session.add(email)
    db.session.flush()
    enqueue_item_after_commit(delivery_task(Lane.TRANSACTIONAL), email.id)
    return email


@dataclass(frozen=True)
class PreparedEmail:
    """A message rendered by its sender (e.g. once for many digest readers), ready for queue_many."""

    name: str
    to: str
    rendered: RenderedEmail
    headers: Mapping[str, str]
    cause: Cause


def queue_many(messages: Sequence[PreparedEmail], lane: Lane = Lane.BULK) -> list[int]:
    """Write many rendered messages to the outbox in the caller's transaction, in `lane`.

    The bulk path of queue_email for mailings (no attachments): the same
    checks, the rows written by one executemany (bulk_insert), ids published after
    commit. Returns the new ids in the order of `messages`. Raises
    InvalidEmailError before anything is written.
    """
    if not messages:
        return []
    sender = current_app.config["MAIL_DEFAULT_SENDER"]
    domain = sender_domain()
    rows = []
    for message in messages:
        check_address("recipient", message.to)
        check_headers(dict(message.headers))
        check_header_value("subject", message.rendered.subject)
        rows.append({
            "name": message.name, "lane": lane.value, "to_address": message.to, "from_address": sender,
            "subject": message.rendered.subject, "body_text": message.rendered.text,
            "body_html": message.rendered.html, "headers": dict(message.headers),
            "message_id": make_msgid(domain=domain), "cause_kind": message.cause.kind,
            "cause_id": message.cause.id,
        })
    ids = bulk_insert(OutgoingEmail.__table__, rows, returning=OutgoingEmail.__table__.c.id)
    task = delivery_task(lane)
    for email_id in ids:
        enqueue_item_after_commit(task, email_id)
    return ids


def queue_failed_again(ids: list[int] | None = None, failed_since=None) -> list[int]:
    """Queue failed mail again (all, or these ids, or what failed since), each in its own lane; returns the ids.

    Published after the caller commits, like any queued mail.
    """
    requeued = delivery.requeue_failed(ids, failed_since)
    for email_id, lane in requeued:
        enqueue_item_after_commit(delivery_task(Lane(lane)), email_id)
    return [email_id for email_id, _ in requeued]


def email(name: str, withhold_if: Callable[[list[OutgoingEmail]], dict[int, str]] | None = None):
    """Declare an email: the decorated function returns its template context (or an EmailContent).

    Calling the result queues the message: `send_x(..., to=address)`, with
    optional `headers=`, `attachments=` and `cause=` beside the function's own.
    `withhold_if(rows)` runs on the rows of this kind in a batch just before
    the batch is sent; a reason it returns for a row id keeps that message
    from going out (status `withheld`), e.g. a digest to someone who
    unsubscribed after it was queued.
    """

    def decorator(build_context):
        if withhold_if is not None:
            register_withhold_check(name, withhold_if)

        @wraps(build_context)
        def send(
            *args,
            to: str,
            headers: Mapping[str, str] | None = None,
            attachments: Sequence[Attachment] = (),
            cause: Cause | None = None,
            **kwargs,
        ) -> OutgoingEmail:
            content = build_context(*args, **kwargs)
            if not isinstance(content, EmailContent):
                content = EmailContent(dict(content))
            return queue_email(
                name,
                to,
                content.context,
                attachments=[*content.attachments, *attachments],
                headers={**content.headers, **(headers or {})},
                cause=cause or content.cause,
            )

        send.build_context = build_context
        send.email_name = name
        return send

    return decorator
