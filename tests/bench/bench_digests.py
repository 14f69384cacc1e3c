"""Digest fan-out: one edition to 100,000 generated subscribers through the real worker, against raw smtplib.

Candidate: confirmed subscribers (a mix of topics, names and event interest)
and the seeded catalog; the weekly edition is started as beat would start it
(the start task, called here), and a Celery worker subprocess composes it
batch by batch and delivers it through the outbox. The clock runs from the
start until the sink has as many messages as the edition planned.

Baseline: the very same messages, read back from the outbox and serialized
as delivery serializes them, sent with raw smtplib over as many persistent
connections as the worker has processes (one sender process per connection,
each holding its share in memory before the clock starts). Goal: >= 0.70 of
its throughput.

Also measured: the worker's peak RSS (VmHWM, reset just before the start, of
the largest pool process: composing and delivering happen in the pool, so a
run that held on to its subscribers or messages shows there) for the full
edition against a small one (a fresh worker each): goal <= 1.15x; and,
counted by recipient at the sink, 0 duplicates and 0 lost digests.

Sizes: BENCH_DIGEST_SUBSCRIBERS (default 100,000) and BENCH_DIGEST_SMALL
(default 10,000). The sink is aiosmtpd in its own process. The bench creates
and drops its own PostgreSQL database and uses a Redis database of its own.
"""
import multiprocessing
import os
import pickle
import smtplib
import tempfile
import time
from pathlib import Path

from aiosmtpd.controller import Controller
from sqlalchemy import insert, select, text
from sqlalchemy.orm import selectinload

from tests.bench import Row, app_from_env, bench_database, flushed_redis, progress
from tests.bench.bench_outbox import portal_env as outbox_env
from tests.bench.sink import Sink
from tests.support.smtp import free_port
from tests.support.worker import start_worker

SUBSCRIBERS = int(os.environ.get("BENCH_DIGEST_SUBSCRIBERS", 100_000))
#: The worker's peak RSS is measured for an edition of this many subscribers too.
SMALL = int(os.environ.get("BENCH_DIGEST_SMALL", 10_000))
WORKER_CONCURRENCY = 4
#: The baseline's persistent SMTP connections: as many as the worker's pool processes.
CONNECTIONS = WORKER_CONCURRENCY
GOAL_VS_RAW = 0.70
GOAL_RSS = 1.15
REDIS_URL = os.environ.get("BENCH_DIGEST_REDIS_URL", "redis://127.0.0.1:6379/12")
INSERT_CHUNK = 5000
WAIT_SECONDS = 3600  # a ceiling for a stuck run, not a target
#: How long the baseline's senders may take to load their shares (a ceiling again).
LOAD_SECONDS = 600
#: With every digest composed, this long without a message at the sink means delivery stopped.
STALL_SECONDS = 30
MIB = 1024 * 1024

SCENARIO = f"digest fan-out, {SUBSCRIBERS:,} subscribers"
DIGEST_LABEL = f"digest edition via Celery worker (concurrency {WORKER_CONCURRENCY})"
RAW_LABEL = f"raw smtplib, {CONNECTIONS} persistent connections"

# Subscribers cycle through these, so a batch renders several variants as a real list would.
TOPIC_MIXES = (("regulatory",), ("clinical-trials", "community"), ("journals",), ("policy", "regulatory"),
               ("research-funding", "journals", "community"), ("community",), ("policy",))
FIRST_NAMES = ("", "Ada", "Grace", "Zoë", "Rosalind", "", "Jean-Luc", "Chiara")

# "spawn", not fork: the parent holds database and broker connections a forked child would inherit.
_CONTEXT = multiprocessing.get_context("spawn")


def run() -> list[Row]:
    from portal.extensions import db

    with tempfile.TemporaryDirectory(prefix="portal-bench-") as tmp, \
            bench_database("portal_bench_digests") as database_url, flushed_redis(REDIS_URL), RecipientSink() as sink:
        env = portal_env(Path(tmp), database_url, sink.port)
        app = app_from_env(env)
        with app.app_context():
            db.create_all()
            seed_catalog()
            small = fan_out(env, Path(tmp), sink, SMALL)
            clear_editions_and_subscribers()
            big = fan_out(env, Path(tmp), sink, SUBSCRIBERS)
            raw_rate = measure_raw_smtplib(sink, big["edition_id"], Path(tmp))
            db.session.remove()
            db.engine.dispose()
    rss_ratio = big["peak_rss"] / small["peak_rss"]
    return [
        Row.at_least(SCENARIO, f"throughput msg/s, {DIGEST_LABEL}", big["rate"], RAW_LABEL, raw_rate, GOAL_VS_RAW),
        Row(SCENARIO, f"worker peak RSS MiB at {SUBSCRIBERS:,} (largest pool process)", big["peak_rss"] / MIB,
            f"same at {SMALL:,}", small["peak_rss"] / MIB, rss_ratio, f"<= {GOAL_RSS:.2f}", rss_ratio <= GOAL_RSS),
        *[count_row(kind, subscribers, outcome) for kind in ("duplicate", "lost")
          for subscribers, outcome in ((SMALL, small), (SUBSCRIBERS, big))],
    ]


def count_row(kind: str, subscribers: int, outcome: dict) -> Row:
    """Duplicate or lost digests of one edition, counted by recipient at the sink: goal 0."""
    count, planned = outcome[kind], outcome["planned"]
    return Row(SCENARIO, f"{kind} digests at {subscribers:,} (recipients at the sink)", count,
               "digests planned", planned, count / planned if planned else 0.0, "0", count == 0)


# ---------------------------------------------------------------- environment


def portal_env(tmp: Path, database_url: str, smtp_port: int) -> dict:
    return {
        **outbox_env(tmp, database_url, smtp_port),
        "REDIS_URL": REDIS_URL,
        # Checking the catalog's links would go to the internet before composing.
        "DIGEST_CHECK_LINKS_FIRST": "0",
    }


# ---------------------------------------------------------------- the sink


class RecipientHandler:
    """Accepts everything; counts messages, and recipients it has not seen since the last reset."""

    def __init__(self, received, distinct, generation):
        self.received = received
        self.distinct = distinct
        self.generation = generation
        self.seen: set[str] = set()
        self.seen_generation = 0

    async def handle_DATA(self, server, session, envelope):
        if self.generation.value != self.seen_generation:
            self.seen.clear()
            self.seen_generation = self.generation.value
        new = 0
        for recipient in envelope.rcpt_tos:
            key = recipient.lower()
            if key not in self.seen:
                self.seen.add(key)
                new += 1
        # distinct first: whoever sees `received` reach a count also sees its recipients.
        if new:
            with self.distinct.get_lock():
                self.distinct.value += new
        with self.received.get_lock():
            self.received.value += 1
        return "250 OK"


def _serve_recipients(port: int, received, distinct, generation, ready, stop) -> None:
    handler = RecipientHandler(received, distinct, generation)
    # A fixed server_hostname, as in tests.bench.sink: no FQDN lookup per connection.
    controller = Controller(handler, hostname="127.0.0.1", port=port, server_hostname="bench-sink")
    controller.start()
    ready.set()
    stop.wait()
    controller.stop()


class RecipientSink(Sink):
    """tests.bench.sink's aiosmtpd process, also counting distinct recipients (for duplicates and losses)."""

    def __init__(self):
        self.port = free_port()
        self._counter = _CONTEXT.Value("Q", 0)
        self._distinct = _CONTEXT.Value("Q", 0)
        self._generation = _CONTEXT.Value("Q", 0)
        self._ready = _CONTEXT.Event()
        self._stop = _CONTEXT.Event()
        self._process = _CONTEXT.Process(
            target=_serve_recipients,
            args=(self.port, self._counter, self._distinct, self._generation, self._ready, self._stop),
            daemon=True,
        )

    @property
    def distinct(self) -> int:
        return self._distinct.value

    def reset(self) -> None:
        with self._generation.get_lock():
            self._generation.value += 1
        with self._distinct.get_lock():
            self._distinct.value = 0
        super().reset()


# ---------------------------------------------------------------- the data


def seed_catalog() -> None:
    """The catalog (the highlights) and an event open for registration (the "upcoming event" block)."""
    from portal.extensions import db
    from portal.resources.service import seed_resources
    from tests.support.events import build_event

    seed_resources()
    db.session.add(build_event("bench-summit", day_capacity=500))
    db.session.commit()


def add_subscribers(count: int) -> None:
    """`count` confirmed weekly subscribers, inserted in bulk (Core) with their topics."""
    from portal.database import utcnow
    from portal.extensions import db
    from portal.mail.validation import address_key
    from portal.newsletter.models import Subscriber, subscriber_topic
    from portal.resources.models import Topic

    started = time.perf_counter()
    topic_ids = dict(db.session.execute(select(Topic.slug, Topic.id)).all())
    now = utcnow()
    for first in range(0, count, INSERT_CHUNK):
        numbers = range(first, min(first + INSERT_CHUNK, count))
        rows = []
        for n in numbers:
            email = f"reader{n}@example.org"
            rows.append({"email": email, "email_key": address_key(email), "status": "confirmed",
                         "frequency": "weekly", "first_name": FIRST_NAMES[n % len(FIRST_NAMES)],
                         "wants_events": n % 3 != 0, "consent_source": "page", "privacy_policy_version": "bench-1",
                         "confirmed_at": now})
        ids = db.session.scalars(insert(Subscriber).returning(Subscriber.id, sort_by_parameter_order=True), rows).all()
        db.session.execute(insert(subscriber_topic), [
            {"subscriber_id": subscriber_id, "topic_id": topic_ids[slug]}
            for n, subscriber_id in zip(numbers, ids) for slug in TOPIC_MIXES[n % len(TOPIC_MIXES)]
        ])
        db.session.commit()
    db.session.execute(text("ANALYZE"))
    db.session.commit()
    progress(f"   inserted {count:,} subscribers in {time.perf_counter() - started:.1f}s")


def clear_editions_and_subscribers() -> None:
    """Back to the seeded catalog: the next edition is the week's first again, for new subscribers."""
    from portal.extensions import db

    db.session.execute(text("TRUNCATE digest_edition, subscriber, outgoing_email CASCADE"))
    db.session.commit()


# ---------------------------------------------------------------- the candidate


def fan_out(env: dict, tmp: Path, sink: RecipientSink, subscribers: int) -> dict:
    """One edition to `subscribers` through a fresh worker: its rate, the worker's peak RSS, duplicates and losses."""
    from portal.digests.tasks import start_edition
    from portal.extensions import db

    add_subscribers(subscribers)
    log_dir = tmp / f"worker-{subscribers}"
    log_dir.mkdir()
    worker = start_worker(env, log_dir, concurrency=WORKER_CONCURRENCY)
    try:
        pool = pool_processes(worker.proc.pid)
        _expect(len(pool) == WORKER_CONCURRENCY, f"the worker has {len(pool)} pool processes")
        for pid in pool:
            reset_peak_rss(pid)
        sink.reset()
        started = time.perf_counter()
        edition_id = start_edition("weekly")  # beat's task, run here: it publishes the compose chain
        planned = wait_for_edition(sink, edition_id)
        elapsed = time.perf_counter() - started
        edition = wait_until_done(edition_id)
        done_after = time.perf_counter() - started
        peaks = {pid: peak_rss(pid) for pid in pool}
        _expect(pool_processes(worker.proc.pid) == pool, "a pool process was replaced during the run")
    except BaseException:
        progress(f"   worker log:\n{worker.output()[-4000:]}")
        raise
    finally:
        worker.stop()
    received, distinct = sink.received, sink.distinct
    result = {"edition_id": edition_id, "planned": planned, "rate": planned / elapsed, "peak_rss": max(peaks.values()),
              "duplicate": received - distinct, "lost": planned - distinct}
    progress(f"   {subscribers:,} subscribers: {planned:,} digests planned, {edition.skipped:,} skipped; "
             f"sink got {received:,} ({distinct:,} recipients) in {elapsed:.1f}s = {result['rate']:,.0f} msg/s; "
             f"edition done after {done_after:.1f}s (sent {edition.sent:,}, failed {edition.failed:,}, "
             f"withheld {edition.withheld:,})")
    progress(f"   worker peak RSS per pool process: "
             f"{', '.join(f'{peak / MIB:.1f}' for peak in sorted(peaks.values()))} MiB")
    _expect(distinct <= planned, f"the sink got {distinct:,} recipients for {planned:,} planned digests")
    db.session.commit()
    return result


def wait_for_edition(sink: RecipientSink, edition_id: int) -> int:
    """Until the sink has every planned digest (or delivery stopped); returns how many were planned.

    The sink (shared memory) is watched, not the database: polling the outbox
    would take CPU from the worker. Only the edition row is read, twice a
    second, until composing ends and the planned count is final.
    """
    from portal.digests.models import DigestEdition, EditionStatus
    from portal.extensions import db

    deadline = time.monotonic() + WAIT_SECONDS
    planned = None
    next_look = 0.0
    last_count, last_change = -1, time.monotonic()
    while True:
        received = sink.received
        now = time.monotonic()
        if planned is not None and received >= planned:
            return planned
        if received != last_count:
            last_count, last_change = received, now
        _expect(now < deadline, f"the sink got {received:,} messages within {WAIT_SECONDS}s")
        if planned is None and now >= next_look:
            next_look = now + 0.5
            status, count = db.session.execute(
                select(DigestEdition.status, DigestEdition.planned).where(DigestEdition.id == edition_id)
            ).one()
            db.session.commit()  # a fresh snapshot for the next look
            if status != EditionStatus.COMPOSING.value:
                planned = count
        if planned is not None and now - last_change > STALL_SECONDS:
            progress(f"   no message for {STALL_SECONDS}s, {received:,} of {planned:,}: counting what was lost")
            return planned
        time.sleep(0.01)


def wait_until_done(edition_id: int):
    """The edition once nothing of it is queued or sending any more (the outbox outcomes copied onto it)."""
    from portal.digests import service
    from portal.digests.models import EditionStatus
    from portal.extensions import db

    deadline = time.monotonic() + STALL_SECONDS
    while True:
        edition = service.refresh_edition(edition_id)
        db.session.commit()
        if edition.status == EditionStatus.DONE.value or time.monotonic() > deadline:
            return edition
        time.sleep(0.2)


# ---------------------------------------------------------------- peak RSS (Linux)


def pool_processes(pid: int) -> list[int]:
    """The worker's pool processes: the children of its main process, from any of its threads."""
    children = set()
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/children") as listed:
            children.update(int(child) for child in listed.read().split())
    return sorted(children)


def reset_peak_rss(pid: int) -> None:
    """Reset the kernel's peak-RSS mark of `pid` to its RSS now (clear_refs 5)."""
    with open(f"/proc/{pid}/clear_refs", "w") as clear_refs:
        clear_refs.write("5")


def peak_rss(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise LookupError(f"no VmHWM for process {pid}")


# ---------------------------------------------------------------- the baseline


def measure_raw_smtplib(sink: RecipientSink, edition_id: int, tmp: Path) -> float:
    """Messages per second for the edition's messages, pre-serialized, over CONNECTIONS persistent connections."""
    shares = [tmp / f"share-{n}.pickle" for n in range(CONNECTIONS)]
    total = write_shares(edition_id, shares)
    barrier = _CONTEXT.Barrier(CONNECTIONS + 1)
    senders = [_CONTEXT.Process(target=send_share, args=(share, sink.port, barrier), daemon=True) for share in shares]
    for sender in senders:
        sender.start()
    try:
        sink.reset()
        barrier.wait(timeout=LOAD_SECONDS)  # every share is in its sender's memory
        started = time.perf_counter()
        sink.wait_for(total, timeout=WAIT_SECONDS)
        elapsed = time.perf_counter() - started
    finally:
        for sender in senders:
            sender.join(timeout=60)
            if sender.is_alive():
                sender.kill()
                sender.join()
        for share in shares:
            share.unlink(missing_ok=True)
    _expect(all(sender.exitcode == 0 for sender in senders), "a smtplib sender failed")
    _expect(sink.received == sink.distinct == total, f"smtplib: the sink got {sink.received:,} "
            f"({sink.distinct:,} recipients) of {total:,}")
    rate = total / elapsed
    progress(f"   {RAW_LABEL}: {total:,} messages in {elapsed:.1f}s = {rate:,.0f} msg/s")
    return rate


def write_shares(edition_id: int, shares: list[Path]) -> int:
    """The edition's messages, built and serialized exactly as delivery does, dealt round-robin into `shares`."""
    from portal.digests.models import DigestDelivery
    from portal.extensions import db
    from portal.mail.message import message_bytes
    from portal.mail.models import OutgoingEmail

    started = time.perf_counter()
    rows = db.session.scalars(
        select(OutgoingEmail).join(DigestDelivery, DigestDelivery.email_id == OutgoingEmail.id)
        .where(DigestDelivery.edition_id == edition_id)
        .options(selectinload(OutgoingEmail.attachments)).order_by(OutgoingEmail.id)
        .execution_options(yield_per=1000)
    )
    files = [share.open("wb") for share in shares]
    total = size = 0
    try:
        for total, row in enumerate(rows, 1):
            data = message_bytes(row)
            size += len(data)
            pickle.dump((row.from_address, row.to_address, data), files[total % len(files)])
    finally:
        for file in files:
            file.close()
    db.session.commit()
    progress(f"   serialized {total:,} messages ({size / max(total, 1):,.0f} bytes each) "
             f"in {time.perf_counter() - started:.1f}s")
    return total


def send_share(share: Path, port: int, barrier) -> None:
    """A sender process: its share into memory first, then all of it over one connection once everyone is ready."""
    messages = []
    with share.open("rb") as file:
        while True:
            try:
                messages.append(pickle.load(file))
            except EOFError:
                break
    barrier.wait(timeout=LOAD_SECONDS)
    with smtplib.SMTP("127.0.0.1", port) as smtp:
        for sender, recipient, data in messages:
            smtp.sendmail(sender, [recipient], data)


def _expect(condition: bool, problem: str) -> None:
    if not condition:
        raise RuntimeError(f"benchmark run is not valid: {problem}")
