"""Confirmation latency under a mailing: registrations through the form while a digest edition sends.

One registration is POSTed every second through the real form (gunicorn, 2
workers, one session cookie and CSRF token fetched once, a new address each
time) while an edition to BENCH_LATENCY_EDITION (default BENCH_EDITION_SIZE,
100,000) subscribers sends under MAIL_BULK_RATE=200/second to Postfix (about
8 minutes). A registration's latency runs from just before its POST to its
confirmation's outbox row being marked sent (sent_at, written right after the
relay's 250). Goal: p95 <= 5 s, on both deployments' workers:

  compose stack  docker-compose.yml's `worker -Q mail,portal --concurrency=4` and
                 `worker-bulk -Q bulk --concurrency=2`
  make run       the single `worker -Q mail,portal,bulk --concurrency=2` of portal/devserver.py

each with beat running, on PostgreSQL and Redis (the rate counted in Redis).
The baseline column is the same deployment with no mailing: IDLE_POSTS
registrations, one a second, just before the edition starts.
"""
import http.client
import math
import os
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

from sqlalchemy import select, text

from tests.bench import Row, app_from_env, bench_database, flushed_redis, progress
from tests.bench.mailbench import (
    COMPOSE_BULK, COMPOSE_TRANSACTIONAL, MAKE_RUN, add_subscribers, edition_counts, edition_finished, expect,
    portal_env, seed_catalog, start_beat, start_worker,
)
from tests.bench.postfix import PostfixRelay

SIZE = int(os.environ.get("BENCH_LATENCY_EDITION") or os.environ.get("BENCH_EDITION_SIZE") or 100_000)
BULK_RATE = "200/second"
IDLE_POSTS = int(os.environ.get("BENCH_LATENCY_IDLE_POSTS") or 20)
POST_INTERVAL = 1.0
GOAL_P95_SECONDS = 5.0
#: After the edition is sent, this long for the last confirmations to go.
DRAIN_SECONDS = 60
WAIT_SECONDS = 7200  # a ceiling for a stuck run, not a target
REDIS_URL = os.environ.get("BENCH_LATENCY_REDIS_URL", "redis://127.0.0.1:6379/11")
EVENT = "bench-summit"

DEPLOYMENTS = (
    ("compose stack", (COMPOSE_TRANSACTIONAL, COMPOSE_BULK)),
    ("make run", (MAKE_RUN,)),
)
SCENARIO = f"confirmation latency, {SIZE:,} edition at MAIL_BULK_RATE={BULK_RATE}"


def run() -> list[Row]:
    import redis

    from portal.extensions import db
    from tests.bench.bench_registration import fetch_session
    from tests.support.worker import start_live_server

    rows = []
    with tempfile.TemporaryDirectory(prefix="portal-bench-") as tmp, \
            bench_database("portal_bench_confirmations") as database_url, flushed_redis(REDIS_URL), \
            PostfixRelay() as relay:
        tmp = Path(tmp)
        env = portal_env(tmp, database_url, relay.port, REDIS_URL, MAIL_BULK_RATE=BULK_RATE)
        app = app_from_env(env)
        with app.app_context():
            db.create_all()
            seed_catalog()
            add_subscribers(SIZE)
            server = start_live_server(env, tmp, workers=2)
            try:
                cookie, csrf = fetch_session(server.url, EVENT)
                form = Form(server.url, cookie, csrf)
                for label, specs in DEPLOYMENTS:
                    rows.append(measure(label, specs, env, tmp, form))
                    db.session.execute(text("TRUNCATE digest_edition, outgoing_email CASCADE"))
                    db.session.commit()
                    with redis.Redis.from_url(REDIS_URL) as client:
                        client.flushdb()  # what the last deployment left in the broker
            finally:
                server.stop()
            db.session.remove()
            db.engine.dispose()
    return rows


class Form:
    """POSTs the registration form over HTTP, as a browser would (without following the 303)."""

    def __init__(self, url: str, cookie: str, csrf: str):
        parsed = urllib.parse.urlsplit(url)
        self.host, self.port = parsed.hostname, parsed.port
        self.cookie, self.csrf = cookie, csrf
        self.sent = 0

    def register(self, prefix: str) -> tuple[str, int]:
        self.sent += 1
        address = f"{prefix}-{self.sent}@example.org"
        body = urllib.parse.urlencode({
            "csrf_token": self.csrf, "first_name": "Bench", "last_name": f"N{self.sent}",
            "organization": "Benchmark Society", "job_title": "Load tester", "category": "member", "days": "all",
            "dietary": "", "accessibility": "", "privacy": "y", "website": "", "confirm": "yes", "email": address,
        })
        connection = http.client.HTTPConnection(self.host, self.port, timeout=30)
        try:
            connection.request("POST", f"/events/{EVENT}/register", body, {
                "Content-Type": "application/x-www-form-urlencoded", "Cookie": self.cookie})
            response = connection.getresponse()
            response.read()
            return address, response.status
        finally:
            connection.close()


class Poster(threading.Thread):
    """Registers once every POST_INTERVAL seconds until stopped (or `count` are posted); records when each began."""

    def __init__(self, form: Form, prefix: str, count: int | None = None):
        super().__init__(daemon=True)
        self.form, self.prefix, self.count = form, prefix, count
        self.posted: list[tuple[str, float, int]] = []  # (address, epoch seconds before the POST, status)
        self.stopping = threading.Event()

    def run(self) -> None:
        started = time.time()
        n = 0
        while not self.stopping.is_set() and (self.count is None or n < self.count):
            self.stopping.wait(max(started + n * POST_INTERVAL - time.time(), 0))
            if self.stopping.is_set():
                break
            began = time.time()
            address, status = self.form.register(self.prefix)
            self.posted.append((address, began, status))
            n += 1

    def stop(self) -> None:
        self.stopping.set()
        self.join()


def measure(label: str, specs, env: dict, tmp: Path, form: Form) -> Row:
    from portal.digests.tasks import start_edition

    log_dir = tmp / label.replace(" ", "-")
    log_dir.mkdir()
    workers = []
    beat = None
    try:
        for spec in specs:
            workers.append(start_worker(spec, env, log_dir))
        beat = start_beat(env, log_dir)
        progress(f"   {label}: {IDLE_POSTS} registrations with no mailing")
        idle = Poster(form, f"idle-{label.replace(' ', '')}", IDLE_POSTS)
        idle.start()
        idle.join()
        idle_latencies = latencies(idle.posted)
        progress(f"   {label}: edition to {SIZE:,} subscribers at {BULK_RATE}, a registration every {POST_INTERVAL:.0f}s")
        busy = Poster(form, f"busy-{label.replace(' ', '')}")
        busy.start()
        try:
            edition_id = start_edition("weekly")
            counts = wait_until_sent(edition_id, workers)
        finally:
            busy.stop()
        busy_latencies = latencies(busy.posted)
    except BaseException:
        for worker in workers:
            progress(f"   worker log ({worker.log_path.name}):\n{worker.output()[-3000:]}")
        raise
    finally:
        if beat is not None:
            beat.stop()
        for worker in workers:
            worker.stop()
    span = (counts["last_sent"] - counts["first_sent"]).total_seconds() if counts["sent"] > 1 else 0.0
    progress(f"   {label}: edition {counts['by_status']} of {counts['planned']:,} planned; bulk rate "
             f"{(counts['sent'] - 1) / span if span else 0:,.1f} msg/s over {span:.0f}s")
    idle_p95 = report(f"{label}, idle", idle.posted, idle_latencies)
    busy_p95 = report(f"{label}, under the mailing", busy.posted, busy_latencies)
    missing = sum(1 for latency in busy_latencies + idle_latencies if latency is None)
    refused = sum(1 for _, _, status in busy.posted + idle.posted if status != 303)
    workers_label = " + ".join(f"-Q {spec.queues} --concurrency={spec.concurrency}" for spec in specs)
    return Row(SCENARIO, f"p95 s, POST to confirmation sent, {label} ({workers_label})", busy_p95,
               "p95 with no mailing, same workers", idle_p95, busy_p95 / idle_p95 if idle_p95 else 0.0,
               f"p95 <= {GOAL_P95_SECONDS:.0f} s, none lost", busy_p95 <= GOAL_P95_SECONDS and not missing and not refused)


def wait_until_sent(edition_id: int, workers) -> dict:
    """Until the edition is composed and no bulk mail is queued or sending (asked every 2 s); its outbox counts."""
    deadline = time.monotonic() + WAIT_SECONDS
    while not edition_finished(edition_id):
        expect(time.monotonic() < deadline, f"the edition was not sent within {WAIT_SECONDS}s")
        expect(all(worker.proc.poll() is None for worker in workers), "a worker exited")
        time.sleep(2)
    return edition_counts(edition_id)


def latencies(posted: list[tuple[str, float, int]]) -> list[float | None]:
    """Seconds from each POST to its confirmation's sent_at (None: not sent within DRAIN_SECONDS)."""
    from datetime import timezone

    from portal.extensions import db
    from portal.mail.models import Lane, OutgoingEmail

    addresses = [address for address, _, _ in posted]
    deadline = time.monotonic() + DRAIN_SECONDS
    while True:
        sent = dict(db.session.execute(
            select(OutgoingEmail.to_address, OutgoingEmail.sent_at).where(
                OutgoingEmail.to_address.in_(addresses), OutgoingEmail.lane == Lane.TRANSACTIONAL.value,
                OutgoingEmail.sent_at.is_not(None))
        ).all())
        db.session.commit()
        if len(sent) >= len(addresses) or time.monotonic() > deadline:
            break
        time.sleep(1)
    return [
        (sent[address].replace(tzinfo=timezone.utc).timestamp() - began) if address in sent else None
        for address, began, _ in posted
    ]


def report(label: str, posted, values: list[float | None]) -> float:
    measured = sorted(value for value in values if value is not None)
    statuses = {}
    for _, _, status in posted:
        statuses[status] = statuses.get(status, 0) + 1
    if not measured:
        progress(f"   {label}: no confirmation was sent (POST statuses {statuses})")
        return float("inf")
    p95 = percentile(measured, 0.95)
    progress(f"   {label}: {len(posted)} registrations (statuses {statuses}), {len(values) - len(measured)} "
             f"confirmations not sent; p50 {percentile(measured, 0.5):.2f} s, p95 {p95:.2f} s, "
             f"max {measured[-1]:.2f} s")
    return p95 if len(measured) == len(values) else float("inf")


def percentile(ordered: list[float], fraction: float) -> float:
    """Nearest-rank percentile of an ordered list."""
    return ordered[min(len(ordered) - 1, max(0, math.ceil(fraction * len(ordered)) - 1))]
