"""Outbox delivery of 5,000 rendered emails through the real worker, against plain smtplib.

Candidate: the emails are queued into the outbox (PostgreSQL) in a few
transactions, then `publish_committed_tasks()` hands their ids to a Celery
worker subprocess over Redis, which claims, builds, sends and records them.
The clock runs from dispatch until the sink has every message and every row is
marked sent.

Baselines, sending the very same serialized messages to the same sink:
  raw        smtplib over one persistent connection (what the sink can take)
  reconnect  smtplib opening a new connection for every message

The sink is aiosmtpd in its own process. The bench creates and drops its own
PostgreSQL database and uses a Redis database of its own.
"""
import os
import smtplib
import tempfile
import time
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from tests.bench import Row, app_from_env, bench_database, flushed_redis, progress
from tests.bench.sink import Sink
from tests.support.worker import start_worker

MESSAGES = 5000
TRANSACTIONS = 5
ROUNDS = 3
WORKER_CONCURRENCY = 4
GOAL_VS_RAW = 1.0  # issues 7 and 8: the outbox keeps up with raw smtplib on one connection
GOAL_VS_RECONNECT = 3.0
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
WAIT_SECONDS = 600  # a ceiling for a stuck run, not a target

SCENARIO = f"outbox delivery, {MESSAGES:,} emails"
RAW_LABEL = "raw smtplib, one connection"
RECONNECT_LABEL = "smtplib, reconnect per message"
OUTBOX_LABEL = f"outbox via Celery worker (concurrency {WORKER_CONCURRENCY})"


def run() -> list[Row]:
    with tempfile.TemporaryDirectory(prefix="portal-bench-") as tmp, bench_database("portal_bench_outbox") as database_url, \
            flushed_redis(REDIS_URL), Sink() as sink:
        env = portal_env(Path(tmp), database_url, sink.port)
        app = app_from_env(env)
        from portal.extensions import db

        with app.app_context():
            db.create_all()
            worker = start_worker(env, Path(tmp), concurrency=WORKER_CONCURRENCY)
            try:
                best = measure_rounds(sink, worker)
            finally:
                worker.stop()
            db.session.remove()
            db.engine.dispose()
    metric = f"throughput msg/s, {OUTBOX_LABEL}"
    return [
        Row.at_least(SCENARIO, metric, best[OUTBOX_LABEL], RAW_LABEL, best[RAW_LABEL], GOAL_VS_RAW),
        Row.at_least(SCENARIO, metric, best[OUTBOX_LABEL], RECONNECT_LABEL, best[RECONNECT_LABEL],
                     GOAL_VS_RECONNECT),
    ]


def measure_rounds(sink: Sink, worker) -> dict[str, float]:
    """Best rate per method over ROUNDS interleaved rounds.

    Other work on the machine can only slow a run down, so the best of a few
    runs is the least disturbed figure; interleaving (in a rotating order)
    exposes every method to the same spells of load.
    """
    best = {RAW_LABEL: 0.0, RECONNECT_LABEL: 0.0, OUTBOX_LABEL: 0.0}
    for round_number in range(ROUNDS):
        ids = queue_emails()
        wire = serialized_messages(ids)
        if round_number == 0:
            progress(f"   {len(wire):,} messages, {sum(len(data) for _, _, data in wire) / len(wire):,.0f} bytes each")
        methods = [
            (RAW_LABEL, lambda: measure_smtplib(sink, wire, reconnect=False)),
            (RECONNECT_LABEL, lambda: measure_smtplib(sink, wire, reconnect=True)),
            (OUTBOX_LABEL, lambda: measure_outbox(sink, worker, ids)),
        ]
        shift = round_number % len(methods)
        for label, measure in methods[shift:] + methods[:shift]:
            rate = measure()
            progress(f"   round {round_number + 1}: {label}: {rate:,.0f} msg/s")
            best[label] = max(best[label], rate)
    return best


# ---------------------------------------------------------------- environment


def portal_env(tmp: Path, database_url: str, smtp_port: int) -> dict:
    return {
        "PORTAL_INSTANCE_PATH": str(tmp / "instance"),
        "DATABASE_URL": database_url,
        "REDIS_URL": REDIS_URL,
        "SECRET_KEY": "bench-secret-key-not-for-production",
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": str(smtp_port),
        "PORTAL_BASE_URL": "http://127.0.0.1:5000",
    }


# ---------------------------------------------------------------- the emails


def queue_emails() -> list[int]:
    """Render and queue MESSAGES emails in TRANSACTIONS commits; dispatch comes later."""
    from portal.extensions import db
    from portal.mail import queue_email

    started = time.perf_counter()
    ids = []
    per_transaction = MESSAGES // TRANSACTIONS
    for first in range(0, MESSAGES, per_transaction):
        for n in range(first, first + per_transaction):
            ids.append(queue_email("test_message", f"attendee{n}@example.org", {"name": f"Attendee {n}"}).id)
        db.session.commit()
    progress(f"   queued {len(ids):,} emails in {TRANSACTIONS} transactions in {time.perf_counter() - started:.1f}s")
    return ids


def serialized_messages(ids: list[int]) -> list[tuple[str, str, bytes]]:
    """What the baselines send: the same rows, built and serialized exactly as delivery does."""
    from portal.extensions import db
    from portal.mail.message import message_bytes
    from portal.mail.models import OutgoingEmail

    rows = db.session.scalars(
        select(OutgoingEmail).where(OutgoingEmail.id.in_(ids))
        .options(selectinload(OutgoingEmail.attachments)).order_by(OutgoingEmail.id)
    ).all()
    wire = [(row.from_address, row.to_address, message_bytes(row)) for row in rows]
    db.session.commit()  # end the read transaction; the rows stay queued
    return wire


# ---------------------------------------------------------------- measurements


def measure_smtplib(sink: Sink, wire: list[tuple[str, str, bytes]], reconnect: bool) -> float:
    """Messages per second for the same serialized messages, sent straight from this process."""
    sink.reset()
    started = time.perf_counter()
    if reconnect:
        for sender, recipient, data in wire:
            with smtplib.SMTP("127.0.0.1", sink.port) as smtp:
                smtp.sendmail(sender, [recipient], data)
    else:
        with smtplib.SMTP("127.0.0.1", sink.port) as smtp:
            for sender, recipient, data in wire:
                smtp.sendmail(sender, [recipient], data)
    elapsed = time.perf_counter() - started
    _expect(sink.received == len(wire), f"smtplib: the sink got {sink.received} of {len(wire)}")
    return len(wire) / elapsed


def measure_outbox(sink: Sink, worker, ids: list[int]) -> float:
    """Messages per second, from dispatch until every row is delivered and marked sent."""
    from portal.extensions import db
    from portal.mail.models import EmailStatus, OutgoingEmail
    from portal.celery_app import publish_committed_tasks

    this_round = OutgoingEmail.id.between(ids[0], ids[-1])
    sent = select(func.count()).select_from(OutgoingEmail).where(
        this_round, OutgoingEmail.status == EmailStatus.SENT.value
    )
    try:
        sink.reset()
        started = time.perf_counter()
        publish_committed_tasks()
        # Watch the sink (shared memory) first: polling the database while the
        # worker runs would take CPU from it.
        sink.wait_for(len(ids), timeout=WAIT_SECONDS)
        deadline = time.monotonic() + WAIT_SECONDS
        while db.session.scalar(sent) < len(ids):
            db.session.commit()  # a fresh snapshot for the next look
            _expect(time.monotonic() < deadline, "rows were delivered but not all marked sent")
            time.sleep(0.01)
        elapsed = time.perf_counter() - started
        db.session.commit()
        # Exactly once: every row claimed once, and the sink got no extra copy.
        attempts = select(func.max(OutgoingEmail.attempts)).where(this_round)
        _expect(db.session.scalar(attempts) == 1, "a row was attempted twice")
        _expect(sink.received == len(ids), f"the sink got {sink.received} messages for {len(ids)} rows")
    except BaseException:
        progress(f"   worker log:\n{worker.output()[-4000:]}")
        raise
    return len(ids) / elapsed


def _expect(condition: bool, problem: str) -> None:
    if not condition:
        raise RuntimeError(f"benchmark run is not valid: {problem}")
