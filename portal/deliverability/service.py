"""Deliverability decisions: what a bounce or complaint does to an address, and what bulk mail skips.

Policy. A hard bounce suppresses the address for bulk mail at once; soft
bounces do once BOUNCE_SOFT_LIMIT of them (counted by message) fall within the
last BOUNCE_SOFT_WINDOW_DAYS, so older ones decay out of the count. Either way
the newsletter subscriber with that address becomes `bounced`. A spam complaint
unsubscribes and suppresses at once. Transactional mail the person caused
(their registration, a link they asked for) is still attempted: suppression
is checked on the bulk lane only (see init_app). A new double opt-in ends a
suppression (portal.newsletter.service), as does an admin clearing it here.

Every function changes the session and flushes; the caller commits.
"""
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from email.utils import parseaddr

from flask import current_app
from sqlalchemy import delete, distinct, func, select
from sqlalchemy.exc import IntegrityError

from portal.admin.audit import record_action
from portal.database import one_of, utcnow
from portal.deliverability.models import (
    DeliveryEvent,
    DeliveryEventKind,
    EventSource,
    MailSuppression,
    SuppressionReason,
)
from portal.deliverability.reports import Report, classify_status, clean_diagnostic, read_report, status_of
from portal.digests.models import DigestDelivery, DigestEdition
from portal.extensions import db
from portal.mail.models import OutgoingEmail
from portal.mail.validation import address_key
from portal.newsletter import service as newsletter

#: Complaint rate above which Gmail and Yahoo throttle bulk senders (0.3 %).
COMPLAINT_RATE_LINE = 0.003
#: Reasons as the outbox's last_error and the admin page put them.
REASON_WORDS = {
    SuppressionReason.HARD_BOUNCE.value: "hard bounce",
    SuppressionReason.SOFT_BOUNCES.value: "repeated soft bounces",
    SuppressionReason.COMPLAINT.value: "spam complaint",
}
SUPPRESSIONS_PAGE_SIZE = 50
#: Events an address's state lists, newest first.
ADDRESS_STATE_EVENTS = 5


# --- Reports and refusals -------------------------------------------------------------------


def process_report(raw: bytes) -> DeliveryEventKind | None:
    """Read one message of the bounce mailbox, record it and apply the policy; the kind recorded.

    None: not a report (an out-of-office reply, a person writing in), nothing
    recorded. UNMATCHED: a report (or an unreadable message) that names no
    message the portal sent; recorded so that it is counted. Never raises on
    malformed input.
    """
    report = read_report(raw)
    if report is None:
        return None
    row = db.session.get(OutgoingEmail, report.email_id) if report.email_id is not None else None
    if row is None or report.kind is DeliveryEventKind.UNMATCHED:
        _unmatched(report)
        return DeliveryEventKind.UNMATCHED
    _record(row, report.kind, report.source, report.status_code, report.diagnostic)
    return report.kind


def record_refusal(email_id: int, reply: str) -> DeliveryEventKind | None:
    """Our relay refused this row's recipient for good at RCPT time: a bounce at once (source smtp).

    Classified like a DSN's status (see reports.classify_status): "550 5.1.1"
    is a hard bounce, a "552 5.2.2 mailbox full" a soft one.
    """
    row = db.session.get(OutgoingEmail, email_id)
    if row is None:
        return None
    status = status_of(reply)
    kind = classify_status(status or reply)
    _record(row, kind, EventSource.SMTP.value, status, clean_diagnostic(reply))
    return kind


def _unmatched(report: Report) -> None:
    recipient = next(iter(report.recipients), None)
    db.session.add(DeliveryEvent(
        kind=DeliveryEventKind.UNMATCHED.value, email_id=None, address_key=_key(recipient) if recipient else None,
        status_code=report.status_code, diagnostic=report.diagnostic, source=report.source,
    ))
    db.session.flush()


def _record(row: OutgoingEmail, kind: DeliveryEventKind, source: str, status: str | None,
            diagnostic: str | None) -> DeliveryEvent | None:
    """The event against the row's own recipient (one per message), then the policy.

    `diagnostic` comes through reports.clean_diagnostic, so it is one line of bounded length.
    A report of a kind the message already has records nothing (None): the bounce
    mailbox's poll reads a report again when it died between its commit and deleting
    the message, and providers send the same report twice.
    """
    if db.session.scalar(select(DeliveryEvent.id).where(DeliveryEvent.email_id == row.id,
                                                        DeliveryEvent.kind == kind.value).limit(1)) is not None:
        return None
    # An erased subscriber's mail keeps no address: the event keeps only its kind and date.
    key = None if row.to_address == newsletter.ERASED_ADDRESS else _key(row.to_address)
    event = DeliveryEvent(
        kind=kind.value, email_id=row.id, address_key=key, lane=row.lane, status_code=status[:16] if status else None,
        diagnostic=diagnostic, source=source,
    )
    db.session.add(event)
    db.session.flush()
    if key is not None:
        _apply_policy(key, event)
    return event


def _apply_policy(key: str, event: DeliveryEvent) -> None:
    detail = {"event": event.id, "kind": event.kind, "status": event.status_code}
    if event.kind == DeliveryEventKind.COMPLAINT.value:
        _suppress(key, SuppressionReason.COMPLAINT, event)
        newsletter.record_complaint(key)
        return
    if event.kind == DeliveryEventKind.HARD_BOUNCE.value:
        reason = SuppressionReason.HARD_BOUNCE
    elif _recent_soft_bounces(key) >= current_app.config["BOUNCE_SOFT_LIMIT"]:
        reason = SuppressionReason.SOFT_BOUNCES
    else:
        return
    _suppress(key, reason, event)
    newsletter.mark_bounced(key, event.source, detail)


def _recent_soft_bounces(key: str) -> int:
    """Messages to the address that soft-bounced within the window (a message reported twice counts once)."""
    since = utcnow() - timedelta(days=current_app.config["BOUNCE_SOFT_WINDOW_DAYS"])
    return db.session.scalar(
        select(func.count(distinct(DeliveryEvent.email_id))).where(
            DeliveryEvent.address_key == key,
            DeliveryEvent.kind == DeliveryEventKind.SOFT_BOUNCE.value,
            DeliveryEvent.created_at >= since,
        )
    )


def _suppress(key: str, reason: SuppressionReason, event: DeliveryEvent) -> None:
    """Add the address to the suppression list; an entry that exists already keeps its first reason."""
    if db.session.scalar(select(MailSuppression.id).where(MailSuppression.address_key == key)) is not None:
        return
    try:
        with db.session.begin_nested():
            db.session.add(MailSuppression(address_key=key, reason=reason.value, event_id=event.id))
    except IntegrityError:
        pass  # another worker suppressed it a moment ago


def _key(address: str) -> str:
    return address_key(parseaddr(address)[1] or address)


# --- Send time ------------------------------------------------------------------------------


def suppressed_keys(keys: Iterable[str]) -> set[str]:
    """Those of the address keys that are on the suppression list."""
    keys = set(keys)
    if not keys:
        return set()
    return set(db.session.scalars(select(MailSuppression.address_key).where(one_of(MailSuppression.address_key, keys))))


def withhold_suppressed(rows) -> dict[int, str]:
    """For the bulk lane: withhold each row whose recipient is suppressed (one query per batch)."""
    keys = {row.id: _key(row.to_address) for row in rows}
    reasons = dict(db.session.execute(
        select(MailSuppression.address_key, MailSuppression.reason)
        .where(one_of(MailSuppression.address_key, set(keys.values())))
    ).all())
    return {row_id: f"suppressed: {REASON_WORDS[reasons[key]]}" for row_id, key in keys.items() if key in reasons}


# --- An address's state, and the admin's list ------------------------------------------------


@dataclass(frozen=True)
class AddressState:
    """What the subscriber and attendee views show about an address."""

    address_key: str
    #: The suppression entry; None when bulk mail goes to the address.
    suppression: MailSuppression | None
    #: The latest bounces and complaints, newest first.
    events: list[DeliveryEvent]

    @property
    def reason(self) -> str | None:
        return REASON_WORDS[self.suppression.reason] if self.suppression else None


def address_state(address: str) -> AddressState | None:
    """Suppression and latest events of an address; None when nothing ever came back about it."""
    key = _key(address)
    suppression = db.session.scalar(select(MailSuppression).where(MailSuppression.address_key == key))
    events = list(db.session.scalars(
        select(DeliveryEvent).where(DeliveryEvent.address_key == key)
        .order_by(DeliveryEvent.id.desc()).limit(ADDRESS_STATE_EVENTS)
    ))
    if suppression is None and not events:
        return None
    return AddressState(key, suppression, events)


def clear_suppression(key: str, actor) -> bool:
    """An admin takes the address off the list (audited); False when it was not on it.

    A bounced subscriber stays bounced: only their own new opt-in brings the
    newsletter back, while other bulk mail to the address goes out again.
    """
    suppression = db.session.scalar(select(MailSuppression).where(MailSuppression.address_key == key))
    if suppression is None:
        return False
    record_action(actor, "suppression_clear", key,
                  {"reason": suppression.reason, "since": suppression.created_at.isoformat(timespec="seconds")})
    db.session.execute(delete(MailSuppression).where(MailSuppression.id == suppression.id))
    db.session.flush()
    return True


def suppressions(search: str | None = None, before_id: int | None = None) -> list[MailSuppression]:
    """Newest first, a page at a time (keyset paging); `search` matches part of the address."""
    query = select(MailSuppression).order_by(MailSuppression.id.desc()).limit(SUPPRESSIONS_PAGE_SIZE)
    if search and search.strip():
        needle = address_key(search).replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(MailSuppression.address_key.like(f"%{needle}%", escape="\\"))
    if before_id:
        query = query.where(MailSuppression.id < before_id)
    return list(db.session.scalars(query))


# --- Figures for the admin page --------------------------------------------------------------


@dataclass(frozen=True)
class Figures:
    """Sent messages and what came back about them; rates are fractions of `sent`."""

    sent: int
    hard: int
    soft: int
    complaints: int

    def _rate(self, count: int) -> float:
        return count / self.sent if self.sent else 0.0

    @property
    def hard_rate(self) -> float:
        return self._rate(self.hard)

    @property
    def soft_rate(self) -> float:
        return self._rate(self.soft)

    @property
    def complaint_rate(self) -> float:
        return self._rate(self.complaints)

    @property
    def reaches_complaint_line(self) -> bool:
        """At the line already counts: the providers ask senders to stay below it."""
        return self.complaint_rate >= COMPLAINT_RATE_LINE


@dataclass(frozen=True)
class DayFigures(Figures):
    day: date | None = None


@dataclass(frozen=True)
class EditionFigures(Figures):
    edition: DigestEdition | None = None


_COUNTED = (DeliveryEventKind.HARD_BOUNCE.value, DeliveryEventKind.SOFT_BOUNCE.value, DeliveryEventKind.COMPLAINT.value)


def daily_stats(days: int = 30, today: date | None = None) -> list[DayFigures]:
    """Per UTC day, newest first: messages sent that day, and bounces and complaints received that day."""
    today = today or utcnow().date()
    since = datetime.combine(today - timedelta(days=days - 1), datetime.min.time())
    sent_day = func.date(OutgoingEmail.sent_at)
    sent = {_as_date(day): count for day, count in db.session.execute(
        select(sent_day, func.count()).where(OutgoingEmail.sent_at >= since).group_by(sent_day))}
    event_day = func.date(DeliveryEvent.created_at)
    counts: dict[tuple[date, str], int] = {}
    for day, kind, count in db.session.execute(
        select(event_day, DeliveryEvent.kind, func.count())
        .where(DeliveryEvent.created_at >= since, DeliveryEvent.kind.in_(_COUNTED))
        .group_by(event_day, DeliveryEvent.kind)
    ):
        counts[(_as_date(day), kind)] = count
    return [
        DayFigures(sent.get(day, 0), *(counts.get((day, kind), 0) for kind in _COUNTED), day=day)
        for day in (today - timedelta(days=n) for n in range(days))
    ]


def edition_stats(limit: int = 20) -> list[EditionFigures]:
    """The latest digest editions, newest first: digests sent, and the bounces and complaints about them."""
    editions = list(db.session.scalars(select(DigestEdition).order_by(DigestEdition.id.desc()).limit(limit)))
    if not editions:
        return []
    counts: dict[tuple[int, str], int] = {}
    for edition_id, kind, count in db.session.execute(
        select(DigestDelivery.edition_id, DeliveryEvent.kind, func.count(distinct(DeliveryEvent.email_id)))
        .join(DeliveryEvent, DeliveryEvent.email_id == DigestDelivery.email_id)
        .where(one_of(DigestDelivery.edition_id, [edition.id for edition in editions]),
               DeliveryEvent.kind.in_(_COUNTED))
        .group_by(DigestDelivery.edition_id, DeliveryEvent.kind)
    ):
        counts[(edition_id, kind)] = count
    return [
        EditionFigures(edition.sent, *(counts.get((edition.id, kind), 0) for kind in _COUNTED), edition=edition)
        for edition in editions
    ]


def _as_date(value) -> date:
    # SQLite's date() returns text, PostgreSQL's a date.
    return value if isinstance(value, date) else date.fromisoformat(value)
