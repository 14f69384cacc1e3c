"""Digest editions through the bulk lane to a real relay (Postfix, discarding), against plain smtplib.

Edition throughput. BENCH_EDITION_SIZE (default 100,000) confirmed subscribers
(a mix of topics, names and event interest) and the seeded catalog; the weekly
edition is started as beat starts it (the start task, called here), and
docker-compose.yml's bulk worker (`-Q bulk --concurrency=2`, a fresh one per
edition) composes it batch by batch and sends it through the outbox, with no
MAIL_BULK_RATE. The clock runs from the start until the last digest's outbox
row is marked sent (sent_at, written right after the relay's 250). Baseline:
the very same messages, read back from the outbox and rendered with
`message_bytes`, sent with smtplib's `sendmail` over as many persistent
connections as the bulk worker has processes (2) to the same Postfix, in the
same run; its clock runs until the last sender got its last 250. Goal: >= 0.80.

Also at BENCH_EDITION_SMALL (default 10,000): the bulk worker's peak RSS
(VmHWM of its largest pool process, reset just before the start) at the full
size against the small one: goal <= 1.15; and, counted by Message-ID in the
relay's log, 0 duplicate and 0 lost digests at both sizes.

Rate. BENCH_RATE_EDITION (default 5,000) subscribers with MAIL_BULK_RATE=100/second
on the same bulk worker (the limit counted in Redis): the measured rate,
(sent - 1) / (last sent_at - first sent_at), within 5 % of 100/s.

Each run logs CPU seconds per message of the worker, the bench database's
PostgreSQL backends, Postfix and the smtplib senders, and how busy the machine
was: the evidence for what limits the ratio. The bench creates and drops its own
PostgreSQL database, Redis database and Postfix instance.
"""
import os
import tempfile
import time
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from tests.bench import Row, app_from_env, bench_database, flushed_redis, progress
from tests.bench.mailbench import (
    COMPOSE_BULK, MIB, CpuMeter, add_subscribers, clear_mail_and_subscribers, database_backends, describe_cpu,
    edition_counts, edition_finished, expect, peak_rss, plain_smtplib, planned_message_ids, pool_processes, portal_env,
    process_tree, reset_peak_rss, seed_catalog, start_worker, write_shares,
)
from tests.bench.postfix import PostfixRelay

SIZE = int(os.environ.get("BENCH_EDITION_SIZE") or 100_000)
SMALL = int(os.environ.get("BENCH_EDITION_SMALL") or 10_000)
RATE_SIZE = int(os.environ.get("BENCH_RATE_EDITION") or 5_000)
RATE = 100  # MAIL_BULK_RATE, messages per second
GOAL_VS_SMTPLIB = 0.80
GOAL_RSS = 1.15
RATE_TOLERANCE = 0.05
REDIS_URL = os.environ.get("BENCH_DIGEST_REDIS_URL", "redis://127.0.0.1:6379/12")
WAIT_SECONDS = 3600  # a ceiling for a stuck run, not a target
#: This long without a message at the relay means delivery stopped.
STALL_SECONDS = 60

SCENARIO = f"digest edition, {SIZE:,} subscribers, to Postfix"
CANDIDATE = f"bulk lane, worker -Q bulk --concurrency={COMPOSE_BULK.concurrency}, no MAIL_BULK_RATE"
SMTPLIB = f"plain smtplib sendmail, {COMPOSE_BULK.concurrency} persistent connections, same messages"
RATE_SCENARIO = f"digest edition, {RATE_SIZE:,} subscribers, MAIL_BULK_RATE={RATE}/second"


def run() -> list[Row]:
    from portal.extensions import db

    with tempfile.TemporaryDirectory(prefix="portal-bench-") as tmp, \
            bench_database("portal_bench_digests") as database_url, flushed_redis(REDIS_URL), PostfixRelay() as relay:
        tmp = Path(tmp)
        env = portal_env(tmp, database_url, relay.port, REDIS_URL)
        app = app_from_env(env)
        with app.app_context():
            db.create_all()
            seed_catalog()
            small = edition(env, database_url, tmp, relay, SMALL)
            clear_mail_and_subscribers()
            big = edition(env, database_url, tmp, relay, SIZE)
            baseline = smtplib_baseline(big["edition_id"], tmp, relay)
            clear_mail_and_subscribers()
            paced = edition(env | {"MAIL_BULK_RATE": f"{RATE}/second"}, database_url, tmp, relay, RATE_SIZE)
            db.session.remove()
            db.engine.dispose()
    rss_ratio = big["peak_rss"] / small["peak_rss"]
    rate = paced["paced_rate"]
    return [
        Row.at_least(SCENARIO, f"throughput msg/s, {CANDIDATE}", big["rate"], SMTPLIB, baseline, GOAL_VS_SMTPLIB),
        Row(SCENARIO, f"bulk worker peak RSS MiB at {SIZE:,} (largest pool process)", big["peak_rss"] / MIB,
            f"same at {SMALL:,}", small["peak_rss"] / MIB, rss_ratio, f"<= {GOAL_RSS:.2f}", rss_ratio <= GOAL_RSS),
        *[count_row(kind, outcome) for kind in ("duplicate", "lost") for outcome in (small, big)],
        Row(RATE_SCENARIO, "measured bulk rate msg/s (first to last sent)", rate, "MAIL_BULK_RATE", RATE,
            rate / RATE, f"within {RATE_TOLERANCE:.0%} of 1.00", abs(rate / RATE - 1) <= RATE_TOLERANCE),
        count_row("lost", paced, RATE_SCENARIO),
    ]


def count_row(kind: str, outcome: dict, scenario: str = SCENARIO) -> Row:
    """Duplicate or lost digests of one edition, counted by Message-ID at the relay: goal 0."""
    count, planned = outcome[kind], outcome["planned"]
    return Row(scenario, f"{kind} digests at {outcome['subscribers']:,} (Message-IDs at the relay)", count,
               "digests planned", planned, count / planned if planned else 0.0, "0", count == 0)


# ---------------------------------------------------------------- the candidate


def edition(env: dict, database_url: str, tmp: Path, relay: PostfixRelay, subscribers: int) -> dict:
    """One edition to `subscribers` through a fresh bulk worker: its rate, peak RSS, duplicates and losses."""
    from portal.database import utcnow
    from portal.digests.tasks import start_edition

    add_subscribers(subscribers)
    log_dir = tmp / f"edition-{subscribers}-{time.monotonic_ns()}"
    log_dir.mkdir()
    worker = start_worker(COMPOSE_BULK, env, log_dir)
    try:
        pool = pool_processes(worker.proc.pid)
        expect(len(pool) == COMPOSE_BULK.concurrency, f"the worker has {len(pool)} pool processes")
        for pid in pool:
            reset_peak_rss(pid)
        relay.mark()
        meter = CpuMeter({"worker": lambda: process_tree(worker.proc.pid),
                          "postgresql": lambda: database_backends(database_url), "postfix": relay.pids})
        started = utcnow()
        edition_id = start_edition("weekly")  # beat's task, run here: it publishes the compose chain
        counts = wait_until_sent(relay, edition_id)
        cpu = meter.stop()
        peaks = {pid: peak_rss(pid) for pid in pool}
        expect(pool_processes(worker.proc.pid) == pool, "a pool process was replaced during the run")
    except BaseException:
        progress(f"   worker log:\n{worker.output()[-4000:]}")
        raise
    finally:
        worker.stop()
    planned = counts["planned"]
    expected = planned_message_ids(edition_id)
    received = relay.wait_for(counts["sent"], timeout=30)
    duplicate = sum(count - 1 for message_id, count in received.items() if message_id in expected and count > 1)
    lost = len(expected - set(received))
    elapsed = (counts["last_sent"] - started).total_seconds() if counts["last_sent"] else float("inf")
    span = (counts["last_sent"] - counts["first_sent"]).total_seconds() if counts["sent"] > 1 else 0.0
    result = {"edition_id": edition_id, "subscribers": subscribers, "planned": planned, "rate": planned / elapsed,
              "paced_rate": (counts["sent"] - 1) / span if span else 0.0, "peak_rss": max(peaks.values()),
              "duplicate": duplicate, "lost": lost}
    progress(f"   {subscribers:,} subscribers ({'MAIL_BULK_RATE=' + env['MAIL_BULK_RATE'] if env.get('MAIL_BULK_RATE') else 'no rate'}): "
             f"{planned:,} digests planned; outbox {counts['by_status']}, max attempts {counts['max_attempts']}; "
             f"relay got {sum(received.values()):,} ({len(received):,} Message-IDs); "
             f"last sent after {elapsed:.1f}s = {result['rate']:,.0f} msg/s; "
             f"first to last sent {span:.1f}s = {result['paced_rate']:,.1f} msg/s")
    progress(f"   {describe_cpu(cpu, max(planned, 1))}")
    progress(f"   bulk worker peak RSS per pool process: "
             f"{', '.join(f'{peak / MIB:.1f}' for peak in sorted(peaks.values()))} MiB")
    return result


def wait_until_sent(relay: PostfixRelay, edition_id: int) -> dict:
    """Until every planned digest has an outcome (or delivery stalled); the edition's outbox counts.

    The relay's log is watched while the edition runs (read incrementally,
    cheap); the database is asked every 2 s with two cheap queries, so the
    bench takes little CPU from the worker and PostgreSQL.
    """
    deadline = time.monotonic() + WAIT_SECONDS
    last_count, last_change, next_look = -1, time.monotonic(), 0.0
    while True:
        now = time.monotonic()
        received = relay.received()
        if received != last_count:
            last_count, last_change = received, now
        if now >= next_look:
            next_look = now + 2
            if edition_finished(edition_id):
                return edition_counts(edition_id)
        expect(now < deadline, f"the relay got {received:,} messages within {WAIT_SECONDS}s")
        if now - last_change > STALL_SECONDS:
            progress(f"   no message at the relay for {STALL_SECONDS}s ({received:,} so far): counting what was lost")
            return edition_counts(edition_id)
        time.sleep(0.5)


# ---------------------------------------------------------------- the baseline


def smtplib_baseline(edition_id: int, tmp: Path, relay: PostfixRelay) -> float:
    """Messages per second for the edition's messages, rendered beforehand, over the worker's number of connections."""
    from portal.digests.models import DigestDelivery
    from portal.mail.models import OutgoingEmail

    shares = [tmp / f"share-{n}.pickle" for n in range(COMPOSE_BULK.concurrency)]
    statement = (
        select(OutgoingEmail).join(DigestDelivery, DigestDelivery.email_id == OutgoingEmail.id)
        .where(DigestDelivery.edition_id == edition_id)
        .options(selectinload(OutgoingEmail.attachments)).order_by(OutgoingEmail.id)
    )
    try:
        total, _ = write_shares(statement, shares)
        relay.mark()
        result = plain_smtplib(shares, total, relay.port, relay)
    finally:
        for share in shares:
            share.unlink(missing_ok=True)
    received = relay.wait_for(total, timeout=60)
    expect(sum(received.values()) == len(received) == total,
           f"smtplib: the relay got {sum(received.values()):,} ({len(received):,} Message-IDs) of {total:,}")
    progress(f"   {SMTPLIB}: {total:,} messages in {result.seconds:.1f}s = {result.rate:,.0f} msg/s")
    progress(f"   {describe_cpu(result.cpu, total)}")
    return result.rate
