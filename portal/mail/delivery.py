"""Deliver outbox rows: claim them, send them over one connection, record each outcome.

A row is claimed with a single conditional UPDATE (queued and due, or a lease
that expired), so however many workers receive the same id, exactly one of them
sends it. The claim is committed before talking to SMTP, and each outcome is
committed as soon as it is known: a worker that dies mid-batch leaves at most
the message that was on the wire unrecorded, and the sweeper sends the rest once
their lease expires. That makes delivery at-least-once; the Message-ID fixed at
queue time lets mail clients show a re-sent message once.

Mail travels in two lanes (OutgoingEmail.lane), each with its own Celery queue:
transactional mail is sent as fast as the relay takes it; bulk mail is paced by
MAIL_BULK_RATE (portal.mail.rate), and a bulk batch gives its process back
after MAIL_BULK_TASK_SECONDS, so a confirmation never waits behind a mailing.
"""
import logging
import random
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from flask import current_app
from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import selectinload

from portal.database import is_connection_lost, utcnow
from portal.extensions import db
from portal.mail.message import message_bytes
from portal.mail.models import EmailStatus, Lane, OutgoingEmail
from portal.mail.rate import take_bulk_slot
from portal.mail.transport import (
    PermanentDeliveryError,
    RecipientRefusedError,
    ServerUnavailableError,
    TemporaryDeliveryError,
    open_transport,
)
from portal.mail.validation import InvalidEmailError
from portal.mail.verp import envelope_sender
from portal.mail.withhold import withhold_reasons

log = logging.getLogger(__name__)

#: Tries at recording an outcome when the database connection was lost under it: the
#: pool hands out a fresh connection each time.
RECORD_ATTEMPTS = 3
#: Logged when a sent message could not be recorded: that message may be sent again.
MARK_GIVEN_UP = "was sent but could not be recorded as sent"

# Called as listener(email_id, reply) after a row failed because the relay refused its
# recipient for good at RCPT time (portal.deliverability records a hard bounce).
_REFUSAL_LISTENERS: list = []


def register_refusal_listener(listener) -> None:
    """Tell `listener` about every recipient the relay refuses; registering it again changes nothing."""
    if listener not in _REFUSAL_LISTENERS:
        _REFUSAL_LISTENERS.append(listener)


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
        .where(OutgoingEmail.id.in_(ids), _claimable(now))
        .values(status=EmailStatus.SENDING.value, lease_expires_at=lease, attempts=OutgoingEmail.attempts + 1)
        .returning(OutgoingEmail.id)
        .execution_options(synchronize_session=False)
    )
    return sorted(result.scalars())


def load_batch(ids: list[int]) -> list[OutgoingEmail]:
    """The claimed rows in id order, with their attachments, detached from the session.

    Detached, so that committing each outcome does not expire them and make
    every later attribute read another query.
    """
    rows = list(db.session.scalars(
        select(OutgoingEmail).where(OutgoingEmail.id.in_(ids)).order_by(OutgoingEmail.id)
        .options(selectinload(OutgoingEmail.attachments))
    ))
    db.session.expunge_all()
    # End the reading transaction: on SQLite it holds the write lock, which must not
    # last through connecting to the mail server.
    db.session.commit()
    return rows


# ---------------------------------------------------------------- delivering


@dataclass
class BatchOutcome:
    sent: list[int] = field(default_factory=list)
    retry: int = 0
    failed: int = 0
    withheld: int = 0
    #: Claimed but not tried (time or sending rate ran out); queued again, attempt given back.
    released: list[int] = field(default_factory=list)
    #: When the released rows may go (epoch seconds): now, or when the bulk rate allows.
    released_until: float = 0.0
    #: Server unreachable: queued again without using up an attempt.
    deferred: int = 0
    #: Index of the row being handled; the rows from here on are unfinished if the batch stops.
    reached: int = 0

    def counts(self) -> dict[str, int]:
        return {
            "sent": len(self.sent), "retry": self.retry, "failed": self.failed, "withheld": self.withheld,
            "released": len(self.released), "deferred": self.deferred,
        }


def deliver_batch(rows: list[OutgoingEmail], paced: bool = False) -> BatchOutcome:
    """Send rows this worker claimed (and committed) over one connection, committing each outcome.

    `paced` (the bulk lane) asks MAIL_BULK_RATE before every message and stops
    after MAIL_BULK_TASK_SECONDS; either way the batch stops starting new sends
    halfway through the lease, the other half being headroom for the last send
    to time out before anyone may claim these rows again.
    """
    outcome = BatchOutcome()
    if not rows:
        return outcome
    config = current_app.config
    stop_at = min(row.lease_expires_at for row in rows) - timedelta(seconds=config["OUTBOX_LEASE_SECONDS"] / 2)
    if paced:
        stop_at = min(stop_at, utcnow() + timedelta(seconds=config["MAIL_BULK_TASK_SECONDS"]))
    try:
        with open_transport() as transport:
            _send_rows(transport, rows, outcome, paced, stop_at)
    except BaseException:
        # Whatever stopped the batch (a bug, a database that went away, a time limit),
        # the rows it had not finished go back to the queue now, not after the lease.
        try:
            _release(rows[outcome.reached:], outcome, time.time())
        except Exception:
            log.exception("outbox rows could not be released; their lease will run out instead")
        raise
    return outcome


def _send_rows(transport, rows: list[OutgoingEmail], outcome: BatchOutcome, paced: bool, stop_at: datetime) -> None:
    withhold = withhold_reasons(rows)
    for index, row in enumerate(rows):
        outcome.reached = index
        if index and utcnow() > stop_at:
            _release(rows[index:], outcome, time.time())
            return
        reason = withhold.get(row.id)
        if reason:
            _record(_set(row.id, status=EmailStatus.WITHHELD.value, last_error=reason[:2000], lease_expires_at=None))
            outcome.withheld += 1
            continue
        if paced:
            go_at = _wait_for_bulk_slot(stop_at)
            if go_at is not None:
                _release(rows[index:], outcome, go_at)
                return
        try:
            data = message_bytes(row)
        except InvalidEmailError as exc:
            _fail(row, f"refused to build: {exc}", outcome)
            continue
        except Exception as exc:  # a malformed row must not hold up the rest of the batch
            log.exception("outbox row %s could not be built", row.id)
            _fail(row, f"could not build the message: {exc}", outcome)
            continue
        try:
            transport.send(data, envelope_sender(row), row.to_address)
        except RecipientRefusedError as exc:
            _fail(row, str(exc), outcome)
            _tell_refusal(row, str(exc))
        except PermanentDeliveryError as exc:
            _fail(row, str(exc), outcome)
        except ServerUnavailableError as exc:
            for pending in rows[index:]:
                _defer(pending, str(exc), outcome)
            return
        except TemporaryDeliveryError as exc:
            _count_retry(row, str(exc), outcome)
        else:
            _record(_set(row.id, status=EmailStatus.SENT.value, sent_at=utcnow(), lease_expires_at=None,
                         last_error=None), f"outbox row {row.id} {MARK_GIVEN_UP}")
            outcome.sent.append(row.id)
    outcome.reached = len(rows)


def _tell_refusal(row: OutgoingEmail, reply: str) -> None:
    """Let the listeners record a refused recipient, committed on its own after the row's outcome.

    A listener that fails costs the record of that refusal, never the batch;
    the log names the row only (exception texts may quote the address).
    """
    for listener in _REFUSAL_LISTENERS:
        try:
            listener(row.id, reply)
            db.session.commit()
        except Exception as exc:
            db.session.rollback()
            log.error("the refused recipient of outbox row %s could not be recorded (%s)", row.id, type(exc).__name__)


def _wait_for_bulk_slot(stop_at: datetime) -> float | None:
    """Take a slot of MAIL_BULK_RATE, sleeping for it while the batch has time; else when to try again."""
    while True:
        slot = take_bulk_slot()
        db.session.commit()  # the embedded default counts in the database
        if slot.granted:
            return None
        if datetime.fromtimestamp(slot.retry_at, timezone.utc).replace(tzinfo=None) > stop_at:
            return slot.retry_at
        time.sleep(max(slot.retry_at - time.time(), 0.001))


def _record(statement, what: str = "an outbox outcome could not be recorded") -> None:
    """Execute and commit one outcome, on a fresh connection if the database connection was lost.

    Hazard: a sent message is with the server already. Unrecorded, it would go
    again once its lease runs out; so the batch goes on only once this is
    written, and stops (its other rows left to the sweeper) when it cannot be.
    """
    for attempt in range(1, RECORD_ATTEMPTS + 1):
        try:
            # A plain Core statement on the session's connection: these rows are
            # detached, so the ORM has nothing to synchronise, and skipping its
            # execution path is most of the cost of recording an outcome.
            db.session.connection().execute(statement)
            db.session.commit()
            return
        except DBAPIError as exc:
            db.session.rollback()
            if attempt == RECORD_ATTEMPTS or not is_connection_lost(exc):
                log.error("%s; the batch stops", what)
                raise


def _set(email_id: int, **values):
    return (
        update(OutgoingEmail).where(OutgoingEmail.id == email_id).values(**values)
        .execution_options(synchronize_session=False)
    )


def _fail(row: OutgoingEmail, error: str, outcome: BatchOutcome) -> None:
    _record(_set(row.id, status=EmailStatus.FAILED.value, last_error=error[:2000], lease_expires_at=None,
                 failed_at=utcnow()))
    outcome.failed += 1


def _count_retry(row: OutgoingEmail, error: str, outcome: BatchOutcome) -> None:
    if row.attempts >= current_app.config["OUTBOX_MAX_ATTEMPTS"]:
        _fail(row, f"gave up after {row.attempts} attempts: {error}", outcome)
        return
    _record(_set(row.id, status=EmailStatus.QUEUED.value, last_error=error[:2000], lease_expires_at=None,
                 next_attempt_at=utcnow() + retry_delay(row.attempts)))
    outcome.retry += 1


def _defer(row: OutgoingEmail, error: str, outcome: BatchOutcome) -> None:
    """The server could not be reached: back off (capped), but give the attempt back."""
    _record(_set(row.id, status=EmailStatus.QUEUED.value, attempts=row.attempts - 1, deferrals=row.deferrals + 1,
                 last_error=error[:2000], lease_expires_at=None,
                 next_attempt_at=utcnow() + retry_delay(row.deferrals + 1)))
    outcome.deferred += 1


def _release(rows: list[OutgoingEmail], outcome: BatchOutcome, go_at: float) -> None:
    """Claimed, but never tried: queued again, due at `go_at`, with the attempt given back."""
    ids = [row.id for row in rows]
    due = datetime.fromtimestamp(go_at, timezone.utc).replace(tzinfo=None)
    _record(
        # Only rows still claimed: releasing twice (a batch stopping while it released) changes nothing.
        update(OutgoingEmail).where(OutgoingEmail.id.in_(ids), OutgoingEmail.status == EmailStatus.SENDING.value)
        .values(status=EmailStatus.QUEUED.value, attempts=OutgoingEmail.attempts - 1, lease_expires_at=None,
                next_attempt_at=max(due, utcnow()))
        .execution_options(synchronize_session=False)
    )
    outcome.released.extend(ids)
    outcome.released_until = go_at


def requeue_failed(ids: list[int] | None = None, failed_since: datetime | None = None) -> list[tuple[int, str]]:
    """Put failed rows back in the queue, due now, with their attempts reset; returns their (id, lane)."""
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
        .returning(OutgoingEmail.id, OutgoingEmail.lane)
        .execution_options(synchronize_session=False)
    )
    return sorted((email_id, lane) for email_id, lane in result)


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
            status=EmailStatus.FAILED.value, lease_expires_at=None, failed_at=utcnow(),
            last_error="gave up: every attempt was abandoned by a worker that stopped mid-send",
        )
        .execution_options(synchronize_session=False)
    )
    return result.rowcount


def due_email_ids(lane: Lane | None = None, limit: int = 1000) -> list[int]:
    """Rows (of `lane`, or any) the sweeper should (re-)dispatch: due for an attempt, or abandoned mid-send."""
    statement = select(OutgoingEmail.id).where(_claimable(utcnow()))
    if lane is not None:
        statement = statement.where(OutgoingEmail.lane == lane.value)
    return list(db.session.scalars(statement.order_by(OutgoingEmail.id).limit(limit)))


# ---------------------------------------------------------------- the outbox page


@dataclass(frozen=True)
class LaneState:
    lane: str
    queued: int
    sending: int
    #: Sent in the last minute.
    sent_last_minute: int


def lane_states() -> list[LaneState]:
    """Depth and recent throughput of each lane, for the admin outbox page (two grouped counts)."""
    pending = dict.fromkeys(((lane.value, status) for lane in Lane for status in ("queued", "sending")), 0)
    for lane, status, count in db.session.execute(
        select(OutgoingEmail.lane, OutgoingEmail.status, func.count())
        .where(OutgoingEmail.status.in_([EmailStatus.QUEUED.value, EmailStatus.SENDING.value]))
        .group_by(OutgoingEmail.lane, OutgoingEmail.status)
    ):
        pending[(lane, status)] = count
    recent = dict(db.session.execute(
        select(OutgoingEmail.lane, func.count())
        .where(OutgoingEmail.status == EmailStatus.SENT.value, OutgoingEmail.sent_at >= utcnow() - timedelta(minutes=1))
        .group_by(OutgoingEmail.lane)
    ).all())
    return [
        LaneState(lane.value, pending[(lane.value, "queued")], pending[(lane.value, "sending")], recent.get(lane.value, 0))
        for lane in Lane
    ]
