"""Reading one message from the bounce mailbox: what failed, for whom, and which message it was about.

Three shapes arrive there. RFC 3464 delivery status notifications
(multipart/report with a message/delivery-status part: an Action, a Status
and a Final-Recipient per recipient; for SMTPUTF8 mail the RFC 6533
message/global-delivery-status, the same fields in UTF-8) come from every
modern MTA; RFC 5965
feedback reports (report-type=feedback-report) are spam complaints relayed by
mailbox providers; anything else is handed to flufl.bounce, whose detectors
know the non-standard bounces of older MTAs and providers. What matches none
of them (an out-of-office reply, a person writing to the address) is not a
report.

The message a report is about is found by where the report was sent: the VERP
return path (portal.mail.verp) names the outbox row and is signed, so a
forged one names nothing. When the return path was lost on the way (a report
sent to the plain bounce address, a feedback loop with an address of its own),
the original Message-ID in the returned headers is the fallback; it is random
and known only to those who received the message. Recipient addresses named
inside a report are never enough on their own: anyone can mail the bounce
address, and acting on named addresses would let them suppress anyone.
"""
import email
import email.policy
import logging
import re
from dataclasses import dataclass, field
from email.message import Message
from email.parser import HeaderParser
from email.utils import getaddresses, parseaddr

from flufl.bounce import all_failures
from sqlalchemy import select

from portal.deliverability.models import DIAGNOSTIC_MAX, DeliveryEventKind, EventSource
from portal.extensions import db
from portal.mail.models import OutgoingEmail
from portal.mail.validation import address_key
from portal.mail.verp import read_verp_address

log = logging.getLogger(__name__)

#: Headers a delivering MTA or mail store records the envelope recipient of the report in;
#: To comes last, since a report's To is usually, but not always, the return path.
_DELIVERY_STATUS_TYPES = ("message/delivery-status", "message/global-delivery-status")
_ENVELOPE_HEADERS = ("delivered-to", "x-original-to", "envelope-to", "x-envelope-to", "to")
#: RFC 5965 feedback types that are a recipient's complaint about the mail (not "not-spam",
#: nor "auth-failure", which reports a DKIM/SPF failure, not a person's choice).
_COMPLAINT_TYPES = frozenset({"abuse", "fraud", "virus"})
_ENHANCED_STATUS = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")
_REPLY_CODE = re.compile(r"\b([245])\d\d\b")
_MESSAGE_ID = re.compile(r"<[!-;=?-~]+>")


@dataclass(frozen=True)
class Report:
    """What one report says: the kind, the outbox row (None: unmatched), and the failed recipients."""

    kind: DeliveryEventKind
    email_id: int | None
    recipients: list[str] = field(default_factory=list)
    status_code: str | None = None
    diagnostic: str | None = None
    source: str = EventSource.OTHER.value


def classify_status(status: str | None) -> DeliveryEventKind:
    """Hard or soft from an enhanced status code (RFC 3463) or a bare SMTP reply code.

    A 5.x.x is permanent, but not every one is about the address: a full
    mailbox (x.2.2, which RFC 3463 allows for persistent transient failures),
    the mail system (x.3.x), the content (x.6.x) and policy, e.g. a message
    blocked as spam (x.7.x), say nothing about whether the address exists. They
    count as soft bounces, so that repeated ones still suppress the address
    while one blocked message does not. A bare 5xx without detail is hard.
    """
    if not status:
        return DeliveryEventKind.HARD_BOUNCE
    enhanced = _ENHANCED_STATUS.search(status)
    if enhanced:
        klass, subject, detail = enhanced.groups()
        if klass != "5" or subject in {"3", "6", "7"} or (subject, detail) == ("2", "2"):
            return DeliveryEventKind.SOFT_BOUNCE
        return DeliveryEventKind.HARD_BOUNCE
    code = _REPLY_CODE.search(status)
    return DeliveryEventKind.SOFT_BOUNCE if code and code.group(1) == "4" else DeliveryEventKind.HARD_BOUNCE


def status_of(text: str | None) -> str | None:
    """The enhanced status code in a reply or diagnostic ("550 5.1.1 ..." -> "5.1.1"), else the reply code."""
    if not text:
        return None
    enhanced = _ENHANCED_STATUS.search(text)
    if enhanced:
        return ".".join(enhanced.groups())
    code = _REPLY_CODE.search(text)
    return code.group(0) if code else None


def clean_diagnostic(text: str | None) -> str | None:
    """One line of at most DIAGNOSTIC_MAX characters; folded header lines are joined."""
    if not text:
        return None
    return " ".join(str(text).split())[:DIAGNOSTIC_MAX] or None


def read_report(raw: bytes) -> Report | None:
    """The report in `raw`, matched to its outbox row; None when the message is not a report.

    A message that cannot be read as email at all (no header fields, or a
    structure the parsers trip over) is an unmatched report, so that a person
    can look at it; this never raises on malformed input.
    """
    try:
        found = _parse(raw)
    except Exception as exc:  # untrusted bytes through the email package and flufl's heuristics
        log.warning("a message in the bounce mailbox could not be parsed (%s)", type(exc).__name__)
        return Report(DeliveryEventKind.UNMATCHED, None)
    if found is None:
        return None
    if found.kind is DeliveryEventKind.UNMATCHED:
        return Report(found.kind, None, found.recipients, found.status_code, found.diagnostic, found.source)
    email_id = _match(found)
    if email_id is not None and found.names_recipient:
        # Heuristics read addresses out of free text, so a match by return path alone is not
        # trusted for them: the row's own recipient must be among those detected.
        to_address = db.session.scalar(select(OutgoingEmail.to_address).where(OutgoingEmail.id == email_id))
        if not any(_same_address(address, to_address) for address in found.recipients):
            email_id = None
    return Report(found.kind, email_id, found.recipients, found.status_code, found.diagnostic, found.source)


@dataclass(frozen=True)
class _Found:
    """What a message says, before it is matched: the report, and where to look for its message."""

    kind: DeliveryEventKind
    recipients: list[str] = field(default_factory=list)
    status_code: str | None = None
    diagnostic: str | None = None
    source: str = EventSource.OTHER.value
    #: Addresses that may be the VERP return path: where the report was delivered, or the
    #: envelope sender it names.
    envelope: list[str] = field(default_factory=list)
    #: The Message-ID of the returned original, if the report returns its headers.
    message_id: str | None = None
    #: The row's own recipient must be among `recipients` (heuristic detection).
    names_recipient: bool = False


def _parse(raw: bytes) -> _Found | None:
    message = email.message_from_bytes(raw, policy=email.policy.compat32)
    if not message.keys():
        return _Found(DeliveryEventKind.UNMATCHED)
    feedback = next((part for part in message.walk() if part.get_content_type() == "message/feedback-report"), None)
    if feedback is not None:
        return _feedback_report(message, feedback)
    statuses = [part for part in message.walk() if part.get_content_type() in _DELIVERY_STATUS_TYPES]
    if statuses:
        return _delivery_status(message, statuses)
    return _heuristic_bounce(message)


# --- RFC 5965 feedback reports -------------------------------------------------------------


def _feedback_report(message: Message, part: Message) -> _Found | None:
    fields = _fields_of(part)
    if fields is None:
        return _Found(DeliveryEventKind.UNMATCHED, source=EventSource.ARF.value)
    feedback_type = _text(fields, "Feedback-Type").strip().lower()
    if feedback_type not in _COMPLAINT_TYPES:
        return None
    returned = _returned_headers(message)
    recipients = [address for value in fields.get_all("Original-Rcpt-To", []) if (address := _address(value))]
    if not recipients and returned is not None:
        recipients = [address for _, address in getaddresses(returned.get_all("To", [])) if "@" in address]
    return _Found(
        DeliveryEventKind.COMPLAINT, recipients, None, clean_diagnostic(f"Feedback-Type: {feedback_type}"),
        EventSource.ARF.value,
        _envelope_of(message, [_text(fields, "Original-Mail-From")], returned), _message_id(returned),
    )


# --- RFC 3464 delivery status notifications -----------------------------------------------


def _delivery_status(message: Message, parts: list[Message]) -> _Found | None:
    failed: list[tuple[str | None, str | None, str | None]] = []
    senders: list[str] = []
    read_any = False
    for part in parts:
        blocks = _blocks_of(part)
        if not blocks:
            continue
        # The first block is about the message; Postfix names the envelope sender in it.
        senders.append(_text(blocks[0], "X-Postfix-Sender"))
        for block in blocks[1:]:
            action = _text(block, "Action").strip().lower()
            read_any = read_any or bool(action)
            # "delayed" is a warning about a delivery still being tried; "delivered",
            # "relayed" and "expanded" are news of success. Neither is a bounce.
            # (opensmtpd writes "error" for "failed".)
            if not action.startswith(("failed", "error")):
                continue
            recipient = _address(_text(block, "Original-Recipient")) or _address(_text(block, "Final-Recipient"))
            diagnostic = clean_diagnostic(_after_type(_text(block, "Diagnostic-Code")))
            status = status_of(_text(block, "Status")) or status_of(diagnostic)
            failed.append((recipient, status, diagnostic))
    if not failed:
        # A report whose fields cannot be read is kept for a person to look at.
        return None if read_any else _Found(DeliveryEventKind.UNMATCHED, source=EventSource.DSN.value)
    kinds = [classify_status(status) for _, status, _ in failed]
    # Several recipients in one report are rare (every message has one): the worst one speaks.
    chosen = kinds.index(DeliveryEventKind.HARD_BOUNCE) if DeliveryEventKind.HARD_BOUNCE in kinds else 0
    _, status, diagnostic = failed[chosen]
    returned = _returned_headers(message)
    return _Found(
        kinds[chosen], [recipient for recipient, _, _ in failed if recipient], status, diagnostic,
        EventSource.DSN.value, _envelope_of(message, senders, returned), _message_id(returned),
    )


def _blocks_of(part: Message) -> list[Message]:
    """The header blocks of a delivery-status part.

    The email package parses message/delivery-status into blocks itself. It
    reads the UTF-8 message/global-delivery-status as one enclosed message
    (the first block its headers, the others its body), so that one is put
    back together and split at its blank lines here.
    """
    payload = part.get_payload()
    if part.get_content_type() == "message/delivery-status":
        return [block for block in payload if isinstance(block, Message)] if isinstance(payload, list) else []
    enclosed = payload[0] if isinstance(payload, list) and payload else None
    if not isinstance(enclosed, Message):
        return []
    text = enclosed.as_bytes().decode("utf-8", "replace")
    return [HeaderParser().parsestr(block) for block in re.split(r"\r?\n[ \t]*\r?\n", text) if block.strip()]


def _after_type(value: str) -> str:
    """'smtp; 550 5.1.1 ...' -> '550 5.1.1 ...' (RFC 3464 typed fields)."""
    kind, semicolon, rest = value.partition(";")
    return rest.strip() if semicolon else kind.strip()


# --- Everything else: flufl.bounce's detectors --------------------------------------------


def _heuristic_bounce(message: Message) -> _Found | None:
    """A non-standard bounce that one of flufl.bounce's detectors recognises."""
    temporary, permanent = all_failures(message)
    if not temporary and not permanent:
        return None
    recipients = sorted({address.decode("ascii", "replace") for address in permanent | temporary} - {""})
    returned = _returned_headers(message)
    return _Found(
        DeliveryEventKind.HARD_BOUNCE if permanent else DeliveryEventKind.SOFT_BOUNCE, recipients, None, None,
        EventSource.OTHER.value, _envelope_of(message, [], returned), _message_id(returned), names_recipient=True,
    )


def _same_address(one: str, other: str | None) -> bool:
    return other is not None and address_key(parseaddr(one)[1] or one) == address_key(parseaddr(other)[1] or other)


# --- Which message a report is about -----------------------------------------------------


def _envelope_of(message: Message, senders: list[str], returned: Message | None) -> list[str]:
    """Where the report was delivered (the return path, for a bounce), then the envelope senders it names."""
    candidates = [address for name in _ENVELOPE_HEADERS for _, address in getaddresses(message.get_all(name, []))]
    candidates += senders
    if returned is not None:
        candidates.append(_text(returned, "Return-Path"))
    return [address for candidate in candidates if (address := _address(candidate))]


def _message_id(returned: Message | None) -> str | None:
    found = _MESSAGE_ID.search(_text(returned, "Message-ID")) if returned is not None else None
    return found.group(0) if found else None


def _match(found: _Found) -> int | None:
    """The outbox row: by a VERP address among the envelope candidates, else by the returned Message-ID."""
    for candidate in found.envelope:
        email_id = read_verp_address(candidate)
        if email_id is not None and db.session.get(OutgoingEmail, email_id) is not None:
            return email_id
    if found.message_id is None:
        return None
    return db.session.scalar(select(OutgoingEmail.id).where(OutgoingEmail.message_id == found.message_id))


def _returned_headers(message: Message) -> Message | None:
    """The headers of the original message a report returns (message/rfc822, text/rfc822-headers or message/global-headers)."""
    for part in message.walk():
        if part is message:
            continue
        kind = part.get_content_type()
        if kind == "message/rfc822":
            payload = part.get_payload()
            if isinstance(payload, list) and payload and isinstance(payload[0], Message):
                return payload[0]
        elif kind == "message/global-headers":
            # Parsed as an enclosed message with the returned headers as its own.
            payload = part.get_payload()
            if isinstance(payload, list) and payload and isinstance(payload[0], Message):
                return payload[0]
        elif kind == "text/rfc822-headers":
            data = part.get_payload(decode=True) or b""
            return HeaderParser().parsestr(data.decode("utf-8", "replace"))
    return None


def _fields_of(part: Message) -> Message | None:
    """The fields of a message/feedback-report part (parsed as an enclosed message, or left as text)."""
    payload = part.get_payload()
    if isinstance(payload, list):
        return payload[0] if payload and isinstance(payload[0], Message) else None
    if isinstance(payload, str):
        return HeaderParser().parsestr(payload)
    return None


def _text(message: Message, name: str) -> str:
    """A header as text: the compat32 parser gives a Header object for one with raw 8-bit bytes."""
    value = message.get(name)
    return "" if value is None else str(value)


def _address(value: str | None) -> str | None:
    """The bare address of an address field, typed ('rfc822; a@b') or not ('<a@b>')."""
    if not value:
        return None
    text = str(value)
    kind, semicolon, rest = text.partition(";")
    if semicolon and "@" not in kind:
        text = rest
    address = parseaddr(" ".join(text.split()))[1] or text.strip().strip("<>")
    return address if "@" in address else None
