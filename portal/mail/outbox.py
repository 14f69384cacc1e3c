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
from datetime import timedelta
from functools import lru_cache, wraps

from flask import current_app
from sqlalchemy import insert, text

from portal.celery_app import enqueue_item_after_commit
from portal.database import bulk_insert, is_postgresql, utcnow
from portal.extensions import db
from portal.mail import delivery
from portal.mail.models import EmailStatus, OutgoingEmail, OutgoingEmailAttachment
from portal.mail.render import RenderedEmail, render_email
from portal.mail.tasks import deliver_emails
from portal.mail.validation import check_address, check_attachment, check_header_value, check_headers



# SQLite: rows per INSERT ... RETURNING statement in queue_many (PostgreSQL reserves the ids
# and needs no RETURNING: see _reserve_ids).
INSERT_PAGE_ROWS = 10


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
    enqueue_item_after_commit(deliver_emails, email.id)
    return email


@dataclass(frozen=True)
class PreparedEmail:
    """A message rendered by its sender (e.g. once for many digest readers), ready for queue_many."""

    name: str
    to: str
    rendered: RenderedEmail
    headers: Mapping[str, str]
    cause: Cause


def queue_many(messages: Sequence[PreparedEmail]) -> list[int]:
    """Write many rendered messages to the outbox in the caller's transaction.

    The bulk path of queue_email for mailings (no attachments): the same
    checks, the rows sent together, ids published after commit. Returns the
    new ids in the order of `messages`. Raises InvalidEmailError before
    anything is written.
    """
    ids = [row["id"] for row in _write_many(messages, {})]
    for email_id in ids:
        enqueue_item_after_commit(deliver_emails, email_id)
    return ids


def queue_claimed(messages: Sequence[PreparedEmail]) -> list[delivery.PendingEmail]:
    """queue_many for a sender that delivers the messages itself once its transaction commits.

    The rows are written already claimed by the caller, as delivery's claim
    would leave them (sending, one attempt, a lease), and nothing is
    published: the caller commits, then hands the returned rows to
    portal.mail.tasks.deliver_now. The rows never have to be claimed or read
    back, and a mailing does not queue ahead of other mail in the delivery
    queue. If the caller dies first, the lease runs out and the outbox
    sweeper sends what it had not, as for any abandoned claim.
    """
    lease = utcnow() + timedelta(seconds=current_app.config["OUTBOX_LEASE_SECONDS"])
    claim = {"status": EmailStatus.SENDING.value, "attempts": 1, "deferrals": 0, "lease_expires_at": lease}
    return [delivery.PendingEmail.from_row(row) for row in _write_many(messages, claim)]


def _write_many(messages: Sequence[PreparedEmail], state: dict) -> list[dict]:
    """Check and insert the messages' rows, with `state` (status and the like) on each; returns them with ids."""
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
            "name": message.name, "to_address": message.to, "from_address": sender,
            "subject": message.rendered.subject, "body_text": message.rendered.text,
            "body_html": message.rendered.html, "headers": dict(message.headers),
            "message_id": make_msgid(domain=domain), "cause_kind": message.cause.kind,
            "cause_id": message.cause.id, **state,
        })
    if is_postgresql():
        ids = _reserve_ids(len(rows))
        for row, email_id in zip(rows, ids):
            row["id"] = email_id
        bulk_insert(OutgoingEmail.__table__, rows)
    else:
        # Hazard: RETURNING order of a multi-row INSERT is only guaranteed with
        # sort_by_parameter_order, which SQLAlchemy then ensures.
        statement = insert(OutgoingEmail).returning(OutgoingEmail.id, sort_by_parameter_order=True)
        ids = list(db.session.scalars(statement.execution_options(insertmanyvalues_page_size=INSERT_PAGE_ROWS), rows))
        for row, email_id in zip(rows, ids):
            row["id"] = email_id
    return rows


def _reserve_ids(count: int) -> list[int]:
    """PostgreSQL: `count` new outbox ids, taken from the id column's own sequence.

    The rows then go in by COPY (portal.database.bulk_insert), which returns
    nothing: the ids have to be known before.
    """
    return list(db.session.scalars(_RESERVE_IDS, {"count": count}))


_RESERVE_IDS = text("SELECT nextval(pg_get_serial_sequence('outgoing_email', 'id')) FROM generate_series(1, :count)")

def email(name: str, withhold_if: Callable[[list[delivery.PendingEmail]], dict[int, str]] | None = None):
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
            delivery.register_withhold_check(name, withhold_if)

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
