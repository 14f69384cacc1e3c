"""Deliver outbox rows: claim, send over one connection, record the outcome.

A row is claimed with a single conditional UPDATE (queued and due, or a lease
that expired), so however many workers receive the same id, exactly one of them
sends it. The claim is committed before talking to SMTP: a worker that dies
mid-send leaves a lease that expires, and the sweeper re-sends. That makes
delivery at-least-once; the Message-ID fixed at queue time lets mail clients
show a re-sent message once.
"""
import email.policy
import logging
import mailbox
import random
import smtplib
import socket
from contextlib import contextmanager
from datetime import timedelta
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path

from flask import current_app
from sqlalchemy import and_, or_, select, update

from portal.database import utcnow
from portal.extensions import db
from portal.mail.models import EmailStatus, OutgoingEmail

log = logging.getLogger(__name__)


class TemporaryDeliveryError(Exception):
    """Worth retrying later: connection trouble or a 4xx reply."""


class PermanentDeliveryError(Exception):
    """The server refused for good (5xx); retrying would not help."""


def build_message(row: OutgoingEmail) -> EmailMessage:
    # policy.default refuses CR/LF inside header values, so a name typed into a
    # form can never add a header of its own.
    msg = EmailMessage(policy=email.policy.default)
    msg["Subject"] = row.subject
    msg["From"] = row.from_address
    msg["To"] = row.to_address
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = row.message_id
    for name, value in (row.headers or {}).items():
        msg[name] = value
    msg.set_content(row.body_text)
    msg.add_alternative(row.body_html, subtype="html")
    html_part = msg.get_payload()[1]
    for attachment in row.attachments:
        maintype, _, subtype = attachment.content_type.partition("/")
        if attachment.content_id:
            html_part.add_related(
                attachment.data, maintype=maintype, subtype=subtype,
                cid=f"<{attachment.content_id}>", filename=attachment.filename,
                disposition="inline",
            )
        else:
            msg.add_attachment(
                attachment.data, maintype=maintype, subtype=subtype, filename=attachment.filename
            )
    return msg


def serialize(msg: EmailMessage) -> bytes:
    # policy.SMTP ends every line with CRLF; bare LF makes strict servers read
    # the whole message as one overlong line.
    return msg.as_bytes(policy=email.policy.SMTP)


class SMTPTransport:
    """One SMTP connection reused for a batch; reconnects once if the server hangs up."""

    def __init__(self, config):
        self.config = config
        self.conn: smtplib.SMTP | None = None

    def _connect(self) -> smtplib.SMTP:
        state = current_app.extensions["mail"]
        try:
            conn = smtplib.SMTP(state.server, state.port, timeout=self.config["MAIL_TIMEOUT"])
            if state.use_tls:
                conn.starttls()
            if state.username and state.password:
                conn.login(state.username, state.password)
        except smtplib.SMTPResponseException as exc:
            raise _classify(exc.smtp_code, exc.smtp_error) from exc
        except (OSError, smtplib.SMTPException) as exc:
            raise TemporaryDeliveryError(f"cannot connect to {state.server}:{state.port}: {exc}") from exc
        return conn

    def send(self, sender: str, recipient: str, data: bytes) -> None:
        for attempt in (1, 2):
            if self.conn is None:
                self.conn = self._connect()
            try:
                refused = self.conn.sendmail(sender, [recipient], data)
            except smtplib.SMTPServerDisconnected as exc:
                self.conn = None
                if attempt == 2:
                    raise TemporaryDeliveryError(f"server disconnected: {exc}") from exc
                continue
            except smtplib.SMTPRecipientsRefused as exc:
                code, reply = exc.recipients[recipient]
                raise _classify(code, reply) from exc
            except smtplib.SMTPResponseException as exc:
                raise _classify(exc.smtp_code, exc.smtp_error) from exc
            except (OSError, socket.timeout) as exc:
                self.close()
                raise TemporaryDeliveryError(f"connection error: {exc}") from exc
            if refused:
                code, reply = refused[recipient]
                raise _classify(code, reply)
            return

    def close(self) -> None:
        if self.conn is not None:
            try:
                self.conn.quit()
            except (OSError, smtplib.SMTPException):
                pass
            self.conn = None


class DevMailboxTransport:
    """The embedded default: a Maildir under instance/, shown at /dev/mail."""

    def __init__(self, config):
        self.path = Path(config["DEV_MAILBOX"])

    def send(self, sender: str, recipient: str, data: bytes) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        mailbox.Maildir(self.path, create=True).add(data)

    def close(self) -> None:
        pass


def _classify(code: int, reply) -> Exception:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    message = f"{code} {text}"
    if 500 <= code < 600:
        return PermanentDeliveryError(message)
    return TemporaryDeliveryError(message)


@contextmanager
def open_transport():
    config = current_app.config
    transport = SMTPTransport(config) if config["MAIL_SERVER"] else DevMailboxTransport(config)
    try:
        yield transport
    finally:
        transport.close()


def retry_delay(attempts: int) -> timedelta:
    """Capped exponential backoff with jitter, so a burst of failures spreads out."""
    config = current_app.config
    ceiling = min(config["OUTBOX_RETRY_CAP_SECONDS"], config["OUTBOX_RETRY_BASE_SECONDS"] * 2 ** (attempts - 1))
    return timedelta(seconds=random.uniform(ceiling / 2, ceiling))


def _claimable(now):
    return or_(
        and_(OutgoingEmail.status == EmailStatus.QUEUED.value, OutgoingEmail.next_attempt_at <= now),
        and_(OutgoingEmail.status == EmailStatus.SENDING.value, OutgoingEmail.lease_expires_at < now),
    )


def claim_emails(ids: list[int]) -> list[int]:
    """Atomically take the given rows that are due; returns the ids this caller now owns."""
    now = utcnow()
    lease = now + timedelta(seconds=current_app.config["OUTBOX_LEASE_SECONDS"])
    result = db.session.execute(
        update(OutgoingEmail)
        .where(OutgoingEmail.id.in_(ids), _claimable(now))
        .values(
            status=EmailStatus.SENDING.value,
            lease_expires_at=lease,
            attempts=OutgoingEmail.attempts + 1,
        )
        .returning(OutgoingEmail.id)
        .execution_options(synchronize_session=False)
    )
    claimed = sorted(result.scalars())
    db.session.commit()
    return claimed


def deliver_emails(ids: list[int]) -> dict[str, int]:
    """Send the due rows among `ids` over one connection; returns counts by outcome."""
    claimed = claim_emails(ids)
    outcome = {"sent": 0, "retry": 0, "failed": 0}
    if not claimed:
        return outcome
    rows = db.session.scalars(
        select(OutgoingEmail).where(OutgoingEmail.id.in_(claimed)).order_by(OutgoingEmail.id)
    ).all()
    sent_ids = []
    with open_transport() as transport:
        for row in rows:
            try:
                transport.send(row.from_address, row.to_address, serialize(build_message(row)))
            except PermanentDeliveryError as exc:
                _finish(row, EmailStatus.FAILED, str(exc))
                outcome["failed"] += 1
            except TemporaryDeliveryError as exc:
                _schedule_retry(row, str(exc))
                outcome["retry" if row.status == EmailStatus.QUEUED.value else "failed"] += 1
            except Exception as exc:  # a malformed row must not block the rest of the batch
                log.exception("outbox row %s could not be built", row.id)
                _finish(row, EmailStatus.FAILED, f"could not build message: {exc}")
                outcome["failed"] += 1
            else:
                sent_ids.append(row.id)
                outcome["sent"] += 1
    if sent_ids:
        db.session.execute(
            update(OutgoingEmail)
            .where(OutgoingEmail.id.in_(sent_ids))
            .values(status=EmailStatus.SENT.value, sent_at=utcnow(), lease_expires_at=None, last_error=None)
            .execution_options(synchronize_session=False)
        )
    db.session.commit()
    return outcome


def _finish(row: OutgoingEmail, status: EmailStatus, error: str) -> None:
    row.status = status.value
    row.last_error = error[:2000]
    row.lease_expires_at = None


def _schedule_retry(row: OutgoingEmail, error: str) -> None:
    if row.attempts >= current_app.config["OUTBOX_MAX_ATTEMPTS"]:
        _finish(row, EmailStatus.FAILED, f"gave up after {row.attempts} attempts: {error}")
        return
    row.status = EmailStatus.QUEUED.value
    row.last_error = error[:2000]
    row.lease_expires_at = None
    row.next_attempt_at = utcnow() + retry_delay(row.attempts)


def due_email_ids(limit: int = 1000) -> list[int]:
    """Rows the sweeper should (re-)dispatch: due for an attempt, or abandoned mid-send."""
    return list(
        db.session.scalars(
            select(OutgoingEmail.id).where(_claimable(utcnow())).order_by(OutgoingEmail.id).limit(limit)
        )
    )


def sweep_outbox() -> int:
    """Re-dispatch due and stuck rows; returns how many ids were handed to the broker."""
    from portal.mail.outbox import dispatch_ids

    ids = due_email_ids()
    db.session.commit()
    if ids and dispatch_ids(ids):
        return len(ids)
    return 0
