"""Deliver outbox rows: claim, send over one connection, record the outcome.

A row is claimed with a single conditional UPDATE (queued and due, or a lease
that expired), so however many workers receive the same id, exactly one of them
sends it. The claim is committed before talking to SMTP: a worker that dies
mid-send leaves a lease that expires, and the sweeper re-sends. That makes
delivery at-least-once; the Message-ID fixed at queue time lets mail clients
show a re-sent message once.
"""
import binascii
import email
import email.policy
import functools
import io
import logging
import mailbox
import random
import re
import smtplib
import socket
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta, timezone
from email import encoders
from email.generator import BytesGenerator
from email.message import EmailMessage, Message
from email.mime.base import MIMEBase
from email.mime.multipart import MIMEMultipart
from email.mime.nonmultipart import MIMENonMultipart
from email.utils import format_datetime, formataddr, getaddresses, parseaddr
from pathlib import Path

import psycopg
from flask import current_app
from sqlalchemy import and_, or_, select, update
from sqlalchemy.exc import DBAPIError

from portal.database import is_connection_lost, is_postgresql, one_of, utcnow
from portal.extensions import db
from portal.mail.models import EmailStatus, OutgoingEmail, OutgoingEmailAttachment
from portal.mail.validation import (
    InvalidEmailError,
    check_address,
    check_attachment,
    check_header_value,
    check_headers,
    is_bare_address,
)

log = logging.getLogger(__name__)


class DeliveryError(Exception):
    """Sending one message did not succeed; the subclass says whether to try again."""


class TemporaryDeliveryError(DeliveryError):
    """Worth retrying later: a 4xx reply or trouble with the connection."""


class ServerUnavailableError(TemporaryDeliveryError):
    """No usable connection to the server, so the rest of the batch would fail the same way."""


class PermanentDeliveryError(DeliveryError):
    """The server refused this message for good (5xx); retrying would not help."""


@dataclass(slots=True)
class PendingEmail:
    """One claimed outbox row as delivery reads it: plain values, no ORM identity to track.

    message_bytes and the withhold checks take it exactly like an OutgoingEmail.
    """

    id: int
    name: str
    to_address: str
    from_address: str
    subject: str
    body_text: str
    body_html: str
    headers: dict
    message_id: str
    attempts: int
    deferrals: int
    cause_kind: str | None
    cause_id: int | None
    #: When the claim runs out and the sweeper may hand the row to another worker.
    lease_expires_at: datetime
    attachments: list = field(default_factory=list)

    @classmethod
    def from_row(cls, row) -> "PendingEmail":
        """From the outbox columns by name: a query's row mapping, or a row as queue_claimed wrote it."""
        return cls(*(row[name] for name in _PENDING_FIELDS))


_PENDING_FIELDS = tuple(f.name for f in fields(PendingEmail) if f.name != "attachments")
_PENDING_COLUMNS = [OutgoingEmail.__table__.c[name] for name in _PENDING_FIELDS]
_ATTACHMENT_COLUMNS = [
    OutgoingEmailAttachment.__table__.c[name] for name in ("email_id", "filename", "content_type", "data", "content_id")
]


# ---------------------------------------------------------------- send-time checks

# Email name -> check(rows) returning {row id: reason to withhold it} for those of a batch.
_WITHHOLD_CHECKS: dict = {}


def register_withhold_check(name: str, check) -> None:
    """Called by `@email(name, withhold_if=...)` when the email is declared."""
    _WITHHOLD_CHECKS[name] = check


def withhold_reasons(rows: list[PendingEmail]) -> dict[int, str]:
    """Why each row of a batch about to be sent must not go out; one check call per kind.

    A check sees all its rows at once, so it can read what it needs in one
    query (a digest mailing would otherwise cost a lookup per message).
    """
    by_name: dict[str, list[PendingEmail]] = {}
    for row in rows:
        if row.name in _WITHHOLD_CHECKS:
            by_name.setdefault(row.name, []).append(row)
    reasons = {}
    for name, named_rows in by_name.items():
        reasons.update(_WITHHOLD_CHECKS[name](named_rows))
    return reasons


# ---------------------------------------------------------------- messages

# The wire format is built with the email package's legacy MIME classes: they
# are several times faster than EmailMessage, which parses every header on
# assignment and refolds it on output, and delivery builds every message anew.
class _WirePolicy(email.policy.Compat32):
    """compat32 with CRLF, writing ASCII headers on one line when RFC 5322 allows it (998 octets).

    compat32 builds a Header object for every header, which was the largest
    remaining cost per message; and it folds a single long token, such as the
    URL in List-Unsubscribe, by moving it to a continuation line, so parsers
    read the value with leading whitespace. Values reaching here have been
    checked for line breaks (_check_row).
    """

    def fold_binary(self, name, value):
        if isinstance(value, str) and value.isascii() and len(name) + len(value) + 2 <= _MAX_LINE:
            return f"{name}: {value}{self.linesep}".encode("ascii")
        return super().fold_binary(name, value)


class _WireGenerator(BytesGenerator):
    """BytesGenerator that writes a body in one piece instead of one line at a time.

    The stdlib's _write_lines splits a body on line breaks and writes each line
    and each CRLF separately: some 400 writes (and ASCII encodes) for an HTML
    digest, the largest cost of serializing one. Replacing every line break
    with CRLF (the wire policies' only line ending) in one pass writes exactly the same bytes.
    """

    def _write_lines(self, lines):
        if lines:
            self.write(_with_crlf(lines))


_LINE_BREAK = re.compile(r"\r\n|\r|\n")  # what email.generator splits bodies on
_WIRE = _WirePolicy(linesep="\r\n")
# For SMTPUTF8, addresses go out as raw UTF-8: compat32 passes header text
# through untouched when it holds surrogate-escaped bytes and cte_type is 8bit.
_WIRE_UTF8 = _WIRE.clone(cte_type="8bit")
_MAX_LINE = 998  # RFC 5322's limit per line, CRLF excluded


def message_bytes(row: OutgoingEmail | PendingEmail) -> bytes:
    """The message exactly as it goes over SMTP, with CRLF line endings only.

    Raises InvalidEmailError for a row that could inject a header.
    """
    _check_row(row)
    smtputf8 = needs_smtputf8(row)
    headers = [
        ("Subject", row.subject),
        ("From", _address_header(row.from_address, smtputf8)),
        ("To", _address_header(row.to_address, smtputf8)),
        ("Date", _date_header()),
        ("Message-ID", row.message_id),
        *(row.headers or {}).items(),
    ]
    policy = _WIRE_UTF8 if smtputf8 else _WIRE
    if row.attachments:
        return _generated_bytes(row, headers, policy)
    return _alternative_bytes(row, headers, policy)


def _date_header() -> str:
    """Now, as a Date header: the second's text is kept, since a batch sends many messages within one."""
    now = int(time.time())
    if _date_cache[0] != now:
        _date_cache[:] = [now, format_datetime(datetime.fromtimestamp(now, timezone.utc))]
    return _date_cache[1]


_date_cache: list = [None, ""]


def _generated_bytes(row: OutgoingEmail | PendingEmail, headers: list[tuple[str, str]], policy) -> bytes:
    """Any message, attachments included, through the email package's MIME tree and generator."""
    message = _mime_body(row)
    for name, value in headers:
        message[name] = value
    wire = io.BytesIO()
    _WireGenerator(wire, mangle_from_=False, policy=policy).flatten(message)
    return wire.getvalue()


def _alternative_bytes(row: OutgoingEmail | PendingEmail, headers: list[tuple[str, str]], policy) -> bytes:
    """The common message, alternative(text, html) and nothing else, written directly.

    Byte for byte what _generated_bytes gives for it (the tests compare the
    two), without MIME objects to build and walk: measured, a digest took
    about a tenth less CPU to deliver. Headers are folded by the same policy
    call the generator makes.
    """
    boundary = _new_boundary()
    parts = [
        policy.fold_binary("Content-Type", f'multipart/alternative; boundary="{boundary}"'),
        policy.fold_binary("MIME-Version", "1.0"),
        *(policy.fold_binary(name, value) for name, value in headers),
        b"\r\n",
    ]
    for lead, text, subtype in (("", row.body_text, "plain"), ("\r\n", row.body_html, "html")):
        encoding, body = _text_body(text)
        parts.append(
            f'{lead}--{boundary}\r\nContent-Type: text/{subtype}; charset="utf-8"\r\n'
            f"Content-Transfer-Encoding: {encoding}\r\n\r\n".encode("ascii")
        )
        parts.append(_with_crlf(body).encode("ascii"))
    parts.append(f"\r\n--{boundary}--\r\n".encode("ascii"))
    return b"".join(parts)


def _with_crlf(text: str) -> str:
    """Every line break as CRLF, as the generator writes a body."""
    if "\r" in text:
        return _LINE_BREAK.sub("\r\n", text)
    return text.replace("\n", "\r\n")  # rendered bodies have bare LFs only; far faster than the regex


def build_message(row: OutgoingEmail | PendingEmail) -> EmailMessage:
    """The message as a mail client reads it (parsed back from the wire bytes), for inspection."""
    return email.message_from_bytes(message_bytes(row), policy=email.policy.default)


def _check_row(row: OutgoingEmail | PendingEmail) -> None:
    # queue_email already refused these; rows written any other way are checked here.
    check_address("sender", row.from_address)
    check_address("recipient", row.to_address)
    check_header_value("subject", row.subject)
    check_header_value("message id", row.message_id)
    check_headers(row.headers or {})
    for attachment in row.attachments:
        check_attachment(attachment.filename, attachment.content_type, attachment.content_id)


def needs_smtputf8(row: OutgoingEmail | PendingEmail) -> bool:
    """True when an address itself (not just a display name) has non-ASCII characters."""
    if (row.from_address + row.to_address).isascii():
        return False
    return not all(address.isascii() for _, address in getaddresses([row.from_address, row.to_address]))


def _address_header(value: str, smtputf8: bool) -> str:
    if smtputf8:
        return value.encode("utf-8").decode("ascii", "surrogateescape")
    if value.isascii() and is_bare_address(value):
        return value
    return _formatted_address(value)


@functools.lru_cache(maxsize=64)  # the sender is the same on every row
def _formatted_address(value: str) -> str:
    # Encodes a non-ASCII display name (RFC 2047) and leaves the address readable.
    return formataddr(parseaddr(value), charset="utf-8")


def _mime_body(row: OutgoingEmail | PendingEmail) -> MIMEMultipart:
    """alternative(text, html) with inline images related to the html, downloads mixed around it."""
    inline = [a for a in row.attachments if a.content_id]
    downloads = [a for a in row.attachments if not a.content_id]
    html = _text_part(row.body_html, "html")
    if inline:
        html = _multipart("related", [html, *map(_attachment_part, inline)])
    body = _multipart("alternative", [_text_part(row.body_text, "plain"), html])
    if downloads:
        body = _multipart("mixed", [body, *map(_attachment_part, downloads)])
    return body


def _multipart(subtype: str, parts: list) -> MIMEMultipart:
    for part in parts:
        del part["MIME-Version"]  # the legacy classes add it to every part; it belongs on the top only
    # A random 128-bit boundary cannot plausibly occur in the content, which
    # spares the generator from compiling a regex to scan the text for it.
    return MIMEMultipart(subtype, boundary=_new_boundary(), _subparts=parts)


def _new_boundary() -> str:
    return f"=_{uuid.uuid4().hex}"


def _text_part(text: str, subtype: str) -> MIMENonMultipart:
    part = MIMENonMultipart("text", subtype, charset="utf-8")
    part["Content-Transfer-Encoding"], body = _text_body(text)
    part.set_payload(body)
    return part


def _text_body(text: str) -> tuple[str, str]:
    """(Content-Transfer-Encoding, body as sent) for a text part."""
    # Splitting on LF alone may see a longer line than the wire has (CR-only breaks); QP then, which is safe.
    if text.isascii() and max(map(len, text.split("\n"))) <= _MAX_LINE:
        return "7bit", text  # readable as it is
    # Quoted-printable (binascii's C encoder) rather than base64: mostly-ASCII
    # text in base64 is a classic spam-filter signal.
    return "quoted-printable", binascii.b2a_qp(text.encode("utf-8"), istext=True).decode("ascii")


def _attachment_part(attachment) -> MIMEBase:
    maintype, subtype, params = _content_type(attachment.content_type)
    part = MIMEBase(maintype, subtype, **dict(params))
    part.set_payload(attachment.data)
    encoders.encode_base64(part)
    # RFC 2231 for a filename that is not ASCII.
    filename = attachment.filename if attachment.filename.isascii() else ("utf-8", "", attachment.filename)
    if attachment.content_id:
        part["Content-ID"] = f"<{attachment.content_id}>"
        part.add_header("Content-Disposition", "inline", filename=filename)
    else:
        part.add_header("Content-Disposition", "attachment", filename=filename)
    return part


@functools.lru_cache(maxsize=64)
def _content_type(value: str) -> tuple[str, str, tuple[tuple[str, str], ...]]:
    """Type, subtype and parameters of an attachment's content type, e.g. a calendar's charset and method."""
    header = Message()
    header["Content-Type"] = value
    return header.get_content_maintype(), header.get_content_subtype(), tuple(header.get_params()[1:])


# ---------------------------------------------------------------- transports


class SMTPTransport:
    """One SMTP connection reused for a batch; reconnects once if the server hangs up."""

    def __init__(self, config):
        self.config = config
        self.conn: smtplib.SMTP | None = None

    def _connect(self) -> smtplib.SMTP:
        """Flask-Mail opens the session (server, TLS and login from MAIL_*); we write the bytes."""
        state = current_app.extensions["mail"]
        where = f"{state.server}:{state.port}"
        try:
            # Hazard: Flask-Mail connects without a timeout, and a relay that
            # accepts TCP but never greets would hang this worker for good. The
            # default timeout is read when the socket is created, so it is set
            # just around the connect; a prefork worker child runs one task at a
            # time, so no other thread sees it.
            with _socket_default_timeout(self.config["MAIL_TIMEOUT"]):
                return state.connect().configure_host()
        except smtplib.SMTPResponseException as exc:
            # Failing at greeting, STARTTLS or login is about the server or our
            # settings, never about one message: retry rather than fail the row.
            raise ServerUnavailableError(f"{where} refused the session: {_reply_text(exc.smtp_code, exc.smtp_error)}") from exc
        except (OSError, smtplib.SMTPException) as exc:
            raise ServerUnavailableError(f"cannot connect to {where}: {exc}") from exc

    def send(self, sender: str, recipient: str, data: bytes, smtputf8: bool = False) -> None:
        for attempt in (1, 2):
            if self.conn is None:
                self.conn = self._connect()
            try:
                _send_message(self.conn, sender, recipient, data, smtputf8)
            except smtplib.SMTPServerDisconnected as exc:
                # Usually an idle connection the server closed; a fresh one may work.
                self._drop()
                if attempt == 1:
                    continue
                raise ServerUnavailableError(f"server disconnected: {exc}") from exc
            except smtplib.SMTPRecipientsRefused as exc:
                code, reply = exc.recipients[recipient]
                raise _classify(code, reply) from exc
            except smtplib.SMTPResponseException as exc:
                raise _classify(exc.smtp_code, exc.smtp_error) from exc
            except smtplib.SMTPNotSupportedError as exc:
                raise PermanentDeliveryError(f"server cannot take this message: {exc}") from exc
            except (OSError, smtplib.SMTPException) as exc:
                # A timeout may leave the server mid-reply, so this connection
                # cannot be trusted for another message.
                self._drop()
                raise ServerUnavailableError(f"connection error: {exc}") from exc
            return

    def _drop(self) -> None:
        _close_quietly(self.conn)
        self.conn = None

    def close(self) -> None:
        if self.conn is not None:
            try:
                self.conn.quit()
            except (OSError, smtplib.SMTPException):
                pass
            self._drop()


def _send_message(conn: smtplib.SMTP, sender: str, recipient: str, data: bytes, smtputf8: bool) -> None:
    """MAIL, RCPT and DATA for one message to one recipient, raising smtplib's exceptions as sendmail does.

    SMTP.sendmail runs both addresses through email.utils.parseaddr on every
    message (measured: about a tenth of the CPU of delivering a digest); these
    were checked when the row was built and only need their angle brackets.
    """
    conn.ehlo_or_helo_if_needed()
    options = ""
    if conn.does_esmtp and conn.has_extn("size"):
        options += f" SIZE={len(data)}"  # lets the server refuse an oversized message before the data
    if smtputf8:
        if not (conn.does_esmtp and conn.has_extn("smtputf8")):
            raise smtplib.SMTPNotSupportedError("SMTPUTF8 not supported by server")
        conn.command_encoding = "utf-8"
        options += " SMTPUTF8"
    code, reply = conn.docmd("MAIL", f"FROM:<{_envelope_address(sender)}>{options}")
    if code != 250:
        _abandon_transaction(conn, code)
        raise smtplib.SMTPSenderRefused(code, reply, sender)
    code, reply = conn.docmd("RCPT", f"TO:<{_envelope_address(recipient)}>")
    if code not in (250, 251):
        _abandon_transaction(conn, code)
        raise smtplib.SMTPRecipientsRefused({recipient: (code, reply)})
    code, reply = conn.docmd("DATA")
    if code != 354:
        _abandon_transaction(conn, code)
        raise smtplib.SMTPDataError(code, reply)
    conn.send(_dot_stuffed(data) + b".\r\n")
    code, reply = conn.getreply()
    if code != 250:
        _abandon_transaction(conn, code)
        raise smtplib.SMTPDataError(code, reply)


def _dot_stuffed(data: bytes) -> bytes:
    """The message as DATA must carry it: a line that starts with "." gets a second one (RFC 5321 4.5.2).

    What SMTP.data does with a multi-line regex, as two byte replacements: the
    regex walked every position of a message, and quoted-printable text puts a
    dot at the start of a line in about one digest in seven (a long link broken
    just before one). `data` ends with CRLF (message_bytes), so the end marker
    follows directly.
    """
    if b"\n." in data:
        data = data.replace(b"\n.", b"\n..")
    if data.startswith(b"."):
        data = b"." + data
    return data if data.endswith(b"\r\n") else data + b"\r\n"


def _abandon_transaction(conn: smtplib.SMTP, code: int) -> None:
    """After a refusal: 421 means the server is closing, anything else leaves the session usable after RSET."""
    if code == 421:
        conn.close()
        return
    try:
        conn.rset()
    except smtplib.SMTPServerDisconnected:
        pass


def _envelope_address(value: str) -> str:
    """The addr-spec of a checked address ("Summit <news@x.org>" -> "news@x.org"), for MAIL FROM and RCPT TO."""
    return value if is_bare_address(value) else _addr_spec(value)


@functools.lru_cache(maxsize=64)  # display names are on the sender, the same on every row
def _addr_spec(value: str) -> str:
    return parseaddr(value)[1]


@contextmanager
def _socket_default_timeout(seconds: float):
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(seconds)
    try:
        yield
    finally:
        socket.setdefaulttimeout(previous)


def _close_quietly(conn: smtplib.SMTP | None) -> None:
    if conn is not None:
        try:
            conn.close()
        except OSError:
            pass


class DevMailboxTransport:
    """The embedded default: a Maildir under instance/, shown at /dev/mail."""

    def __init__(self, config):
        self.box = mailbox.Maildir(Path(config["DEV_MAILBOX"]), create=True)

    def send(self, sender: str, recipient: str, data: bytes, smtputf8: bool = False) -> None:
        self.box.add(data)

    def close(self) -> None:
        pass


def _reply_text(code: int, reply) -> str:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    return f"{code} {text}"


def _classify(code: int, reply) -> DeliveryError:
    message = _reply_text(code, reply)
    if code == 421:  # the server is closing this session: nothing more will get through it
        return ServerUnavailableError(message)
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


# ---------------------------------------------------------------- claiming


def retry_delay(attempts: int) -> timedelta:
    """Capped exponential backoff with jitter, so a burst of failures spreads out."""
    config = current_app.config
    ceiling = min(config["OUTBOX_RETRY_CAP_SECONDS"], config["OUTBOX_RETRY_BASE_SECONDS"] * 2 ** (attempts - 1))
    return timedelta(seconds=random.uniform(ceiling / 2, ceiling))


def _claimable(now):
    return or_(
        and_(OutgoingEmail.status == EmailStatus.QUEUED.value, OutgoingEmail.next_attempt_at <= now),
        and_(
            OutgoingEmail.status == EmailStatus.SENDING.value,
            OutgoingEmail.lease_expires_at < now,
            # A row that took down every worker that tried it is given up on
            # by the sweeper instead (see give_up_on_abandoned_rows).
            OutgoingEmail.attempts < current_app.config["OUTBOX_MAX_ATTEMPTS"],
        ),
    )


def claim_emails(ids: list[int]) -> list[int]:
    """Atomically take the given rows that are due; returns the ids this caller now owns.

    The caller commits the claim before sending anything.
    """
    now = utcnow()
    lease = now + timedelta(seconds=current_app.config["OUTBOX_LEASE_SECONDS"])
    result = db.session.execute(
        update(OutgoingEmail)
        .where(one_of(OutgoingEmail.id, ids), _claimable(now))
        .values(
            status=EmailStatus.SENDING.value,
            lease_expires_at=lease,
            attempts=OutgoingEmail.attempts + 1,
        )
        .returning(OutgoingEmail.id)
        .execution_options(synchronize_session=False)
    )
    return sorted(result.scalars())


# ---------------------------------------------------------------- delivering


@dataclass
class BatchOutcome:
    sent: list[int] = field(default_factory=list)
    retry: int = 0
    failed: int = 0
    withheld: int = 0
    #: Claimed but not tried because the lease ran short; queued again at once.
    released: list[int] = field(default_factory=list)
    #: Server unreachable: queued again without using up an attempt.
    deferred: int = 0
    #: How many of `sent` are already recorded (at a checkpoint).
    recorded: int = 0

    def counts(self) -> dict[str, int]:
        return {
            "sent": len(self.sent),
            "retry": self.retry,
            "failed": self.failed,
            "withheld": self.withheld,
            "released": len(self.released),
            "deferred": self.deferred,
        }


# Sent messages are recorded durably every this many: a worker killed mid-batch sends
# at most this many messages a second time. One, so a kill costs at most the message
# that was on the wire (see _progress_marks for what keeps that cheap).
PROGRESS_EVERY = 1

# One statement per accepted message on PostgreSQL, prepared once per batch.
# "id = $2", not "id = ANY($2)" with a one-element array: measured, the array costs the
# server about 60% more per mark.
_MARK_SENT_SQL = (
    b"UPDATE outgoing_email SET status = 'sent', sent_at = $1, lease_expires_at = NULL, last_error = NULL "
    b"WHERE id = $2"
)


class _LibpqMarks:
    """Marks sent rows through libpq itself (psycopg.pq): one prepared statement, one round trip each.

    Hazard: this bypasses psycopg's cursor, which measured about 45 µs of
    client CPU per execute against 15 µs here, paid once per message sent. So
    it keeps to what the cursor would have done: the connection is put in
    blocking mode while marking (libpq then sends a statement whole before
    returning) and the previous mode restored; every result is checked. The
    statement is libpq's unnamed one, which the connection's next ordinary
    query replaces, so nothing is left behind on the pooled connection.
    """

    def __init__(self, pgconn):
        self.pgconn = pgconn
        self.was_nonblocking = pgconn.nonblocking
        pgconn.nonblocking = 0
        self._check(pgconn.prepare(b"", _MARK_SENT_SQL))

    def mark(self, ids: list[int]) -> None:
        for email_id in ids:  # PROGRESS_EVERY is 1: one id per call
            self.pgconn.send_query_prepared(b"", [utcnow().isoformat(" ").encode(), str(email_id).encode()])
            self._check(self._result())

    def close(self) -> None:
        self.pgconn.nonblocking = self.was_nonblocking

    def _result(self):
        """The sent statement's result, and the end of its results read, as libpq requires before the next."""
        result = self.pgconn.get_result()
        while self.pgconn.get_result() is not None:
            pass
        return result

    @staticmethod
    def _check(result) -> None:
        if result is None or result.status != psycopg.pq.ExecStatus.COMMAND_OK:
            message = result.error_message.decode("utf-8", "replace") if result is not None else "no result"
            raise psycopg.OperationalError(f"could not mark a message sent: {message}")


#: Tries at marking on a fresh connection once the marks connection failed (a pooled
#: connection is pinged first, so each try gets a live one unless it dies right then).
MARK_ATTEMPTS = 3
#: Logged when they all failed: the batch stops, and that message may be sent again.
MARK_GIVEN_UP = "were sent but could not be recorded as sent"


def _mark_sent_afresh(ids: list[int]) -> None:
    """Record `ids` as sent on a connection of their own, committed at once; raise when that is impossible.

    Hazard: the message is with the server already. Unrecorded, it would go
    again once its lease runs out, and so would every later one of the batch
    whose mark failed the same way; so the batch goes on only once this mark
    is written.
    """
    for attempt in range(1, MARK_ATTEMPTS + 1):
        try:
            with db.engine.begin() as connection:
                connection.execute(_sent(ids))
            return
        except DBAPIError as exc:
            if attempt < MARK_ATTEMPTS and is_connection_lost(exc):
                continue
            log.error("outbox rows %s %s; the batch stops", ids, MARK_GIVEN_UP)
            raise


@contextmanager
def _progress_marks(checkpoint):
    """Yield `mark(ids)`, which makes "these were sent" survive a worker killed right after.

    PostgreSQL: a pooled connection of its own in autocommit with
    synchronous_commit off, so a mark is one round trip that does not wait for
    the disk. It survives a killed worker, which is what it guards against;
    only a crash of the database server could lose the last fraction of a
    second of marks, and those messages would be sent again (still at least
    once). The batch's own transaction records everything else at the end.
    SQLite: recorded in the session and committed by the caller's `checkpoint`
    (a separate writer would wait for the session's write lock); in WAL mode
    with synchronous=NORMAL such a commit is cheap too.
    """
    if checkpoint is None:
        yield None
        return
    if not is_postgresql():
        def mark_in_session(ids: list[int]) -> None:
            _record_sent(ids)
            checkpoint()

        yield mark_in_session
        return
    raw = db.engine.raw_connection()
    restored = False
    try:
        connection = raw.driver_connection
        connection.autocommit = True
        connection.execute("SET synchronous_commit = off")
        marks = _LibpqMarks(connection.pgconn)
        marks_lost = False

        def mark(ids: list[int]) -> None:
            nonlocal marks_lost
            if not marks_lost:
                try:
                    marks.mark(ids)
                    return
                except psycopg.Error:
                    # The connection died (or is in a state not worth guessing at):
                    # the rest of the batch is marked on fresh connections.
                    log.warning("the outbox marks connection failed; marking on fresh connections", exc_info=True)
                    marks_lost = True
            _mark_sent_afresh(ids)

        yield mark
        if not marks_lost:
            marks.close()
            connection.execute("RESET synchronous_commit")
            connection.autocommit = False
            restored = True
    finally:
        # Never hand a connection in an unknown state back to the pool, whatever
        # stopped the batch (an error, a KeyboardInterrupt in a shell, a time limit).
        if not restored:
            raw.invalidate()
        raw.close()


def deliver_pending(rows: list[PendingEmail], checkpoint=None) -> BatchOutcome:
    """Send rows this worker claimed (and committed) over one connection; record each outcome (the caller commits).

    `checkpoint`, the caller's commit, makes progress durable within the
    batch: with it, every PROGRESS_EVERY messages the server accepted are
    recorded as sent at once (see _progress_marks).
    """
    outcome = BatchOutcome()
    try:
        with _progress_marks(checkpoint) as mark, open_transport() as transport:
            _send_batch(transport, rows, outcome, mark)
    finally:
        # Also when the batch stopped on an unexpected error: every message
        # already handed to the server must be marked sent.
        _record_sent(outcome.sent[outcome.recorded:])
    return outcome


def load_batch(ids: list[int]) -> list[PendingEmail]:
    """The rows of a claimed batch in id order, with their attachments: two Core queries.

    Loaded as plain values rather than ORM objects: building and tracking 100
    instances (and a selectin load) was about a sixth of a worker's CPU per
    digest, and delivery only reads these rows and records outcomes by id.
    """
    rows = [
        PendingEmail.from_row(row)
        for row in db.session.execute(
            select(*_PENDING_COLUMNS).where(one_of(OutgoingEmail.id, ids)).order_by(OutgoingEmail.id)
        ).mappings()
    ]
    by_id = {row.id: row for row in rows}
    for attachment in db.session.execute(
        select(*_ATTACHMENT_COLUMNS)
        .where(one_of(OutgoingEmailAttachment.email_id, ids))
        .order_by(OutgoingEmailAttachment.id)
    ):
        by_id[attachment.email_id].attachments.append(attachment)
    return rows


def _send_batch(transport, rows: list[PendingEmail], outcome: BatchOutcome, mark) -> None:
    if not rows:
        return
    # Stop starting new sends halfway through the lease: the other half is
    # headroom for the last send to time out before anyone may claim these rows.
    # Counted from the lease itself, which began before the rows were written or
    # loaded (for a compose task, before its COPY, commit and publish).
    half_lease = timedelta(seconds=current_app.config["OUTBOX_LEASE_SECONDS"] / 2)
    send_until = min(row.lease_expires_at for row in rows) - half_lease
    withhold = withhold_reasons(rows)
    for index, row in enumerate(rows):
        if index and utcnow() > send_until:
            released = [pending.id for pending in rows[index:]]
            _release(released)
            outcome.released.extend(released)
            return
        reason = withhold.get(row.id)
        if reason:
            _withhold(row, reason)
            outcome.withheld += 1
            continue
        try:
            smtputf8 = needs_smtputf8(row)
            data = message_bytes(row)
        except InvalidEmailError as exc:
            _fail(row, f"refused to build: {exc}")
            outcome.failed += 1
            continue
        except Exception as exc:  # a malformed row must not block the rest of the batch
            log.exception("outbox row %s could not be built", row.id)
            _fail(row, f"could not build message: {exc}")
            outcome.failed += 1
            continue
        try:
            transport.send(row.from_address, row.to_address, data, smtputf8=smtputf8)
        except PermanentDeliveryError as exc:
            _fail(row, str(exc))
            outcome.failed += 1
        except ServerUnavailableError as exc:
            for pending in rows[index:]:
                _defer(pending, str(exc), outcome)
            return
        except TemporaryDeliveryError as exc:
            _count_retry(row, str(exc), outcome)
        else:
            outcome.sent.append(row.id)
            if mark is not None and len(outcome.sent) - outcome.recorded >= PROGRESS_EVERY:
                mark(outcome.sent[outcome.recorded:])
                outcome.recorded = len(outcome.sent)


def _record_sent(ids: list[int]) -> None:
    if ids:
        db.session.execute(_sent(ids).execution_options(synchronize_session=False))


def _sent(ids: list[int]):
    return (
        update(OutgoingEmail)
        .where(one_of(OutgoingEmail.id, ids))
        .values(status=EmailStatus.SENT.value, sent_at=utcnow(), lease_expires_at=None, last_error=None)
    )


def _set(email_id: int, **values) -> None:
    """Record one row's outcome (the caller commits): the rare paths, one UPDATE each."""
    db.session.execute(
        update(OutgoingEmail).where(OutgoingEmail.id == email_id).values(**values)
        .execution_options(synchronize_session=False)
    )


def _fail(row: PendingEmail, error: str) -> None:
    _set(row.id, status=EmailStatus.FAILED.value, last_error=error[:2000], lease_expires_at=None, failed_at=utcnow())


def _withhold(row: PendingEmail, reason: str) -> None:
    _set(row.id, status=EmailStatus.WITHHELD.value, last_error=reason[:2000], lease_expires_at=None)


def _count_retry(row: PendingEmail, error: str, outcome: BatchOutcome) -> None:
    if row.attempts >= current_app.config["OUTBOX_MAX_ATTEMPTS"]:
        _fail(row, f"gave up after {row.attempts} attempts: {error}")
        outcome.failed += 1
        return
    _set(row.id, status=EmailStatus.QUEUED.value, last_error=error[:2000], lease_expires_at=None,
         next_attempt_at=utcnow() + retry_delay(row.attempts))
    outcome.retry += 1


def _defer(row: PendingEmail, error: str, outcome: BatchOutcome) -> None:
    """The server could not be reached: back off (capped), but give the attempt back."""
    _set(row.id, status=EmailStatus.QUEUED.value, attempts=row.attempts - 1, deferrals=row.deferrals + 1,
         last_error=error[:2000], lease_expires_at=None, next_attempt_at=utcnow() + retry_delay(row.deferrals + 1))
    outcome.deferred += 1


def requeue_failed(ids: list[int] | None = None, failed_since: datetime | None = None) -> list[int]:
    """Put failed rows back in the queue, due now, with their attempts reset; returns their ids."""
    conditions = [OutgoingEmail.status == EmailStatus.FAILED.value]
    if ids:
        conditions.append(OutgoingEmail.id.in_(ids))
    if failed_since is not None:
        conditions.append(OutgoingEmail.failed_at >= failed_since)
    result = db.session.execute(
        update(OutgoingEmail)
        .where(*conditions)
        .values(status=EmailStatus.QUEUED.value, attempts=0, deferrals=0, next_attempt_at=utcnow(),
                failed_at=None, lease_expires_at=None)
        .returning(OutgoingEmail.id)
        .execution_options(synchronize_session=False)
    )
    return sorted(result.scalars())


def _release(ids: list[int]) -> None:
    """Claimed, but never tried: queued again, due now, with the attempt given back."""
    db.session.execute(
        update(OutgoingEmail)
        .where(one_of(OutgoingEmail.id, ids))
        .values(status=EmailStatus.QUEUED.value, attempts=OutgoingEmail.attempts - 1, lease_expires_at=None,
                next_attempt_at=utcnow())
        .execution_options(synchronize_session=False)
    )


# ---------------------------------------------------------------- sweeping


def give_up_on_abandoned_rows() -> int:
    """Fail rows whose every attempt was abandoned mid-send (a worker died each time)."""
    result = db.session.execute(
        update(OutgoingEmail)
        .where(
            OutgoingEmail.status == EmailStatus.SENDING.value,
            OutgoingEmail.lease_expires_at < utcnow(),
            OutgoingEmail.attempts >= current_app.config["OUTBOX_MAX_ATTEMPTS"],
        )
        .values(
            status=EmailStatus.FAILED.value,
            lease_expires_at=None,
            failed_at=utcnow(),
            last_error="gave up: every attempt was abandoned by a worker that stopped mid-send",
        )
        .execution_options(synchronize_session=False)
    )
    return result.rowcount


def due_email_ids(limit: int = 1000) -> list[int]:
    """Rows the sweeper should (re-)dispatch: due for an attempt, or abandoned mid-send."""
    return list(
        db.session.scalars(
            select(OutgoingEmail.id).where(_claimable(utcnow())).order_by(OutgoingEmail.id).limit(limit)
        )
    )
