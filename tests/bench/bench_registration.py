"""Registration benchmark: the registration POST against a bare insert, and the capacity race.

Run alone with `.venv/bin/python -m tests.bench.bench_registration`; `run()`
returns the result rows for the main runner (`python -m tests.bench`).
Nothing here asserts an absolute time: every figure is a ratio against a
baseline measured in the same run, on the same machine, back to back.

Setup (all of it created here and removed at the end):
- a PostgreSQL database of its own, created through BENCH_PG_ADMIN_URL
  (default postgresql://postgres@127.0.0.1:5432/postgres), schema from the
  models (db.create_all()), events seeded with the registration models;
- Redis db 13 as the Celery broker. No worker runs: each POST writes its
  outbox row and the after-request dispatch only enqueues a task in Redis;
- two gunicorn servers with identical settings (2 sync workers, 1 thread, no
  access log): the portal (`portal:create_app()`) and the bare baseline
  (tests/bench/bare_app.py: one psycopg INSERT + COMMIT per POST);
- load from wrk (tests/bench/registration_post.lua): every POST has its own
  email address and reuses one session cookie + CSRF token fetched once.
  wrk does not follow redirects, so the portal's 303 is the final answer;
  anything outside 200-399, and any socket error or timeout, is an error.

RATELIMIT_ENABLED=0: every request comes from 127.0.0.1, and the per-IP
limit on the form (10 per minute) would turn all but the first few POSTs
into 429s. The benchmark measures the request path, not the limiter (which
adds one Redis round trip per POST in production).

Scenarios:
1. Registration POST: portal vs bare endpoint, each for MEASURE_SECONDS at
   POST_CONNECTIONS connections after a warm-up. Goals: throughput >= 70 %
   of the bare endpoint, p99 <= 4 x p50, no errors.
2. Capacity race: 4,000 registrants, 64 connections, one event with capacity
   1,000 (overall and per day). Exactly 1,000 must be confirmed and 3,000
   waitlisted (checked in the database), no errors. Baseline: the same 4,000
   registrants round-robin over 200 events of capacity 5 each. Capacity 5
   (not "plenty") keeps the work identical: both runs confirm exactly 1,000
   (confirmation email with QR code and .ics) and waitlist 3,000 (waiting-list
   email), in the same order, so the ratio isolates what one hot event costs:
   every POST queueing on the same event row lock and counting seats over
   one event's growing registrations. Goal: >= 60 % of the spread throughput.
   Each side's 4,000 POSTs go in three parts, alternating (see race_parts()).

Besides the rows, each run logs (stderr) its CPU time per request for the
gunicorn workers, the PostgreSQL backends and wrk, how busy the whole machine
was, and how many backends waited on a row lock on average (pg_stat_activity
sampled every 0.1 s): the evidence for what limits throughput.
"""
from __future__ import annotations

import json
import os
import re
import resource
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

from tests.bench import PG_ADMIN_URL, bench_database, environ

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
LUA_SCRIPT = HERE / "registration_post.lua"

REDIS_URL = "redis://127.0.0.1:6379/13"

GUNICORN_WORKERS = 2
WRK_THREADS = 1  # one wrk thread is far faster than either server and leaves the cores to them
WARMUP_SECONDS = 3
MEASURE_SECONDS = int(os.environ.get("BENCH_REGISTRATION_SECONDS") or 10)
POST_CONNECTIONS = 16
RACE_REGISTRANTS = 4000
RACE_CONNECTIONS = 64
RACE_CAPACITY = 1000
SPREAD_EVENTS = 200
SPREAD_CAPACITY = RACE_CAPACITY // SPREAD_EVENTS  # 5: same 1,000 confirmed / 3,000 waitlisted mix
RACE_MAX_SECONDS = 150  # safety stop for a part that cannot finish

POST_EVENT = "bench-post"
RACE_EVENT = "bench-race"
SPREAD_PREFIX = "bench-spread-"
PORTAL_REGISTER_PATH = "/events/%s/register"
BARE_PATH = "/bare"

POST_THROUGHPUT_GOAL = 0.70
LATENCY_SPREAD_GOAL = 4.0
RACE_THROUGHPUT_GOAL = 0.60

CLK_TCK = os.sysconf("SC_CLK_TCK")


def log(message: str) -> None:
    print(f"[registration] {message}", file=sys.stderr, flush=True)


# --- PostgreSQL and Redis ----------------------------------------------------------------


def _libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


def _flush_redis() -> None:
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.flushdb()
    finally:
        client.close()


def portal_env(instance: Path, database_url: str) -> dict:
    return {
        "PORTAL_INSTANCE_PATH": str(instance),
        "DATABASE_URL": database_url,
        "SECRET_KEY": "bench-secret-" + uuid.uuid4().hex,
        "REDIS_URL": REDIS_URL,
        "RATELIMIT_ENABLED": "0",
        "MAIL_SERVER": "",
        "PORTAL_BASE_URL": "http://127.0.0.1:5000",
    }


def _seed_event(slug: str, capacity: int | None, day_capacity: int):
    from datetime import timedelta

    from portal.database import utcnow
    from tests.support.events import build_event

    return build_event(
        slug, title=f"Benchmark event {slug}", capacity=capacity, day_capacity=day_capacity,
        first_day=(utcnow() + timedelta(days=60)).date(), privacy_policy_version="bench-1",
    )


def race_parts() -> tuple[int, int, int]:
    """The POSTs of each race side in three parts: 1,300, 1,350, 1,350.

    The sides alternate R S | S R | R S, so a change in the machine's load (other
    people's tests) hits both alike. Every part runs at the full 64 connections,
    and the last seat goes in the middle of the first part, not at its end.
    """
    first = RACE_CAPACITY + (RACE_REGISTRANTS - RACE_CAPACITY) // 10
    rest = RACE_REGISTRANTS - first
    return first, rest // 2, rest - rest // 2


def spread_slugs() -> list[str]:
    return [f"{SPREAD_PREFIX}{index:03d}" for index in range(1, SPREAD_EVENTS + 1)]


def build_schema_and_seed(env: dict, libpq_url: str) -> None:
    """Schema from the models through the app factory, events through the registration models."""
    from portal import create_app
    from portal.extensions import db

    with environ(env):
        app = create_app()
        with app.app_context():
            db.create_all()
            # Scenario 1: room for everyone, so every POST is a confirmation (QR code + .ics email).
            db.session.add(_seed_event(POST_EVENT, None, 10_000_000))
            db.session.add(_seed_event(RACE_EVENT, RACE_CAPACITY, RACE_CAPACITY))
            for slug in spread_slugs():
                db.session.add(_seed_event(slug, SPREAD_CAPACITY, SPREAD_CAPACITY))
            db.session.commit()
            db.session.remove()
            db.engine.dispose()
    from tests.bench.bare_app import TABLE_DDL

    with psycopg.connect(libpq_url, autocommit=True) as conn:
        conn.execute(TABLE_DDL)
        conn.execute("ANALYZE")


# --- Processes ---------------------------------------------------------------------------


def _free_port() -> int:
    from tests.support.smtp import free_port

    return free_port()


class Gunicorn:
    """One gunicorn server; portal and bare baseline get exactly the same settings."""

    def __init__(self, name: str, app_spec: str, env: dict, log_dir: Path):
        self.name = name
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_dir / f"gunicorn-{name}.log"
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [
                sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{self.port}",
                "--workers", str(GUNICORN_WORKERS), "--threads", "1", "--worker-class", "sync",
                "--timeout", "60", "--graceful-timeout", "5", app_spec,
            ],
            cwd=ROOT, env={**os.environ, **env}, stdout=self._log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"gunicorn ({self.name}) did not come up:\n{self.output()[-4000:]}")
            time.sleep(0.1)

    def worker_pids(self) -> list[int]:
        try:
            children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text()
        except OSError:
            return []
        return [int(pid) for pid in children.split()]

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self._log.close()


def _process_cpu_seconds(pids) -> dict[int, float]:
    seconds = {}
    for pid in pids:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        seconds[pid] = (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime
    return seconds


def _machine_cpu() -> tuple[float, float]:
    """(busy, total) jiffies over all cores since boot."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]
    total = sum(values[:8])
    return total - idle, total


def _backend_pids(libpq_url: str) -> list[int]:
    dbname = make_url(libpq_url).database
    with psycopg.connect(_libpq(PG_ADMIN_URL), autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", (dbname,)
        ).fetchall()
    return [row[0] for row in rows]


class LockWatch:
    """Samples pg_stat_activity while a run goes: how many backends wait for a lock (the event row)."""

    INTERVAL = 0.1

    def __init__(self, libpq_url: str):
        self.dbname = make_url(libpq_url).database
        self.samples: list[tuple[int, int]] = []  # (waiting on a lock, active)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self) -> None:
        with psycopg.connect(_libpq(PG_ADMIN_URL), autocommit=True) as conn:
            while not self._stop.wait(self.INTERVAL):
                waiting, active = conn.execute(
                    """
                    SELECT count(*) FILTER (WHERE wait_event_type = 'Lock'), count(*) FILTER (WHERE state = 'active')
                    FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()
                    """,
                    (self.dbname,),
                ).fetchone()
                self.samples.append((waiting, active))

    def __enter__(self) -> "LockWatch":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


# --- Load --------------------------------------------------------------------------------


@dataclass
class LoadResult:
    """One wrk run, or several runs of one side combined (then latencies are count-weighted means)."""

    label: str
    answered: int
    ok: int
    errors: int
    seconds: float  # first request sent .. last answer received
    p50_ms: float
    p99_ms: float
    max_ms: float
    statuses: dict
    app_cpu_s: float  # gunicorn workers
    db_cpu_s: float  # PostgreSQL backends connected to the bench database
    wrk_cpu_s: float  # the load generator
    box_busy_jiffies: int  # every process on the machine, all cores
    box_total_jiffies: int
    lock_wait_samples: int  # sum over pg_stat_activity samples of backends waiting for a lock
    lock_samples: int

    @property
    def rps(self) -> float:
        return self.answered / self.seconds if self.seconds else 0.0

    @property
    def spread(self) -> float:
        return self.p99_ms / self.p50_ms if self.p50_ms else float("inf")

    def per_request_ms(self, seconds: float) -> float:
        return seconds * 1000 / self.answered if self.answered else 0.0

    @property
    def box_busy(self) -> float:
        return self.box_busy_jiffies / self.box_total_jiffies if self.box_total_jiffies else 0.0

    @property
    def lock_waiters(self) -> float:
        """Mean number of backends waiting for a row lock (out of GUNICORN_WORKERS)."""
        return self.lock_wait_samples / self.lock_samples if self.lock_samples else 0.0

    def describe(self) -> str:
        return (
            f"{self.label:<22} {self.rps:7.1f} req/s  p50 {self.p50_ms:7.1f} ms  p99 {self.p99_ms:7.1f} ms  "
            f"max {self.max_ms:7.1f} ms  n={self.answered} errors={self.errors}  "
            f"cpu/req: app {self.per_request_ms(self.app_cpu_s):.2f} ms, db {self.per_request_ms(self.db_cpu_s):.2f} ms, "
            f"wrk {self.per_request_ms(self.wrk_cpu_s):.2f} ms  box busy {self.box_busy:.0%}  "
            f"lock waiters {self.lock_waiters:.2f}  statuses {self.statuses}"
        )


def combine(label: str, parts: list[LoadResult]) -> LoadResult:
    answered = sum(part.answered for part in parts)

    def weighted(name: str) -> float:
        return sum(getattr(part, name) * part.answered for part in parts) / answered if answered else 0.0

    statuses: dict = {}
    for part in parts:
        for code, count in part.statuses.items():
            statuses[code] = statuses.get(code, 0) + count
    return LoadResult(
        label=label,
        answered=answered,
        ok=sum(part.ok for part in parts),
        errors=sum(part.errors for part in parts),
        seconds=sum(part.seconds for part in parts),
        p50_ms=weighted("p50_ms"),
        p99_ms=weighted("p99_ms"),
        max_ms=max(part.max_ms for part in parts),
        statuses=statuses,
        **{
            name: sum(getattr(part, name) for part in parts)
            for name in ("app_cpu_s", "db_cpu_s", "wrk_cpu_s", "box_busy_jiffies", "box_total_jiffies",
                         "lock_wait_samples", "lock_samples")
        },
    )


def fetch_session(server_url: str, slug: str) -> tuple[str, str]:
    """One GET of the form: the session cookie and the CSRF token every POST reuses."""
    with urllib.request.urlopen(f"{server_url}/events/{slug}/register", timeout=10) as response:
        html = response.read().decode()
        cookies = [header.split(";", 1)[0] for header in response.headers.get_all("Set-Cookie") or []]
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html)
    if not match or not cookies:
        raise RuntimeError("the registration form did not hand out a session cookie and a CSRF token")
    return "; ".join(cookies), match.group(1)


@dataclass
class LoadTarget:
    server: Gunicorn
    path_template: str
    slugs: list[str]
    cookie: str
    csrf: str
    db_url: str


def run_wrk(target: LoadTarget, label: str, connections: int, seconds: int | None = None, quota: int = 0) -> LoadResult:
    """One wrk run: for `seconds`, or until exactly `quota` POSTs are answered.

    A quota run always uses one wrk thread: a thread that has sent its share stops
    but leaves its connections open, and a sync gunicorn worker that accepts such an
    idle connection blocks on it until its timeout, stalling the other threads.
    """
    duration = seconds if seconds else RACE_MAX_SECONDS
    threads = 1 if quota else WRK_THREADS
    prefix = f"{label}-{uuid.uuid4().hex[:6]}"
    command = [
        "wrk", "-t", str(threads), "-c", str(connections), "-d", f"{duration}s", "--timeout", "30s",
        "-s", str(LUA_SCRIPT), target.server.url, "--",
        target.path_template, ",".join(target.slugs), target.cookie,
        urllib.parse.quote(target.csrf, safe=""), prefix, str(quota),
    ]
    workers = target.server.worker_pids()
    backends = _backend_pids(target.db_url)
    cpu_before = _process_cpu_seconds(workers + backends)
    box_before = _machine_cpu()
    children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with LockWatch(target.db_url) as locks:
        proc = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env={**os.environ, "BENCH_WRK_THREADS": str(threads)},
        )
        lines = []
        if quota:
            finished = 0
            for line in proc.stdout:
                lines.append(line)
                if line.startswith("BENCH-THREAD-DONE"):
                    finished += 1
                    if finished == threads:
                        proc.send_signal(signal.SIGINT)  # wrk would otherwise sleep out its -d
                        break
        out, err = proc.communicate(timeout=duration + 60)
    lines.extend(out.splitlines(keepends=True))
    box_after = _machine_cpu()
    children_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    backends_after = _backend_pids(target.db_url)
    cpu_after = _process_cpu_seconds(workers + sorted(set(backends) | set(backends_after)))
    result_line = next((line for line in lines if line.startswith("BENCH-RESULT ")), None)
    if proc.returncode != 0 or result_line is None:
        raise RuntimeError(f"wrk failed ({proc.returncode}):\n{''.join(lines)}\n{err}")
    raw = json.loads(result_line[len("BENCH-RESULT ") :])
    socket_errors = raw["connect_errors"] + raw["read_errors"] + raw["write_errors"] + raw["timeouts"]
    answered = raw["answered"]

    def cpu_used(pids) -> float:
        # A process that started or ended during the run is left out (its share is unknown).
        return sum(cpu_after[pid] - cpu_before[pid] for pid in pids if pid in cpu_after and pid in cpu_before)

    if target.server.worker_pids() != workers:
        log(f"WARNING {label}: gunicorn replaced a worker during the run (timeout or crash); see its log")

    wrk_cpu = (children_after.ru_utime + children_after.ru_stime) - (children_before.ru_utime + children_before.ru_stime)
    result = LoadResult(
        label=label,
        answered=answered,
        ok=raw["ok"],
        errors=raw["bad"] + socket_errors + (quota - answered if quota and answered < quota else 0),
        seconds=raw["window_us"] / 1e6,
        p50_ms=raw["p50_us"] / 1000,
        p99_ms=raw["p99_us"] / 1000,
        max_ms=raw["max_us"] / 1000,
        statuses=raw["statuses"],
        app_cpu_s=cpu_used(workers),
        db_cpu_s=cpu_used(sorted(set(backends) | set(backends_after))),
        wrk_cpu_s=wrk_cpu,
        box_busy_jiffies=box_after[0] - box_before[0],
        box_total_jiffies=box_after[1] - box_before[1],
        lock_wait_samples=sum(waiting for waiting, _ in locks.samples),
        lock_samples=len(locks.samples),
    )
    log(result.describe())
    unexpected = {code: count for code, count in result.statuses.items() if code != "303"}
    if unexpected:
        # 2xx/3xx other than the redirect still count as success (the rule), but a 200 means
        # the form came back with errors: say so, the run is probably not measuring registrations.
        log(f"WARNING {label}: answers other than 303 See Other: {unexpected}")
    return result


# --- Checks in the database --------------------------------------------------------------


def registration_counts(libpq_url: str, slugs: list[str]) -> dict:
    with psycopg.connect(libpq_url) as conn:
        per_event = conn.execute(
            """
            SELECT e.slug,
                   count(*) FILTER (WHERE r.status = 'confirmed'),
                   count(*) FILTER (WHERE r.status = 'waitlisted'),
                   count(r.id)
            FROM event e LEFT JOIN registration r ON r.event_id = e.id
            WHERE e.slug = ANY(%s)
            GROUP BY e.slug
            """,
            (slugs,),
        ).fetchall()
        day_seats = conn.execute(
            """
            SELECT d.id, d.capacity, count(r.id)
            FROM event_day d JOIN event e ON e.id = d.event_id
            LEFT JOIN registration_day rd ON rd.event_day_id = d.id
            LEFT JOIN registration r ON r.id = rd.registration_id AND r.status = 'confirmed'
            WHERE e.slug = ANY(%s)
            GROUP BY d.id, d.capacity
            """,
            (slugs,),
        ).fetchall()
        outbox = conn.execute(
            """
            SELECT count(*) FROM outgoing_email o
            WHERE o.to_address IN (
                SELECT r.email FROM registration r JOIN event e ON e.id = r.event_id WHERE e.slug = ANY(%s)
            )
            """,
            (slugs,),
        ).fetchone()[0]
    return {
        "confirmed": sum(row[1] for row in per_event),
        "waitlisted": sum(row[2] for row in per_event),
        "registrations": sum(row[3] for row in per_event),
        "max_confirmed_per_event": max(row[1] for row in per_event),
        "min_confirmed_per_event": min(row[1] for row in per_event),
        "days_over_capacity": sum(1 for _, capacity, taken in day_seats if taken > capacity),
        "outbox_rows": outbox,
    }


# --- Rows --------------------------------------------------------------------------------


def _row(scenario, metric, baseline, value, baseline_value, ratio, goal, met) -> dict:
    return {
        "scenario": scenario,
        "metric": metric,
        "baseline": baseline,
        "value": float(value),
        "baseline_value": float(baseline_value),
        "ratio": float(ratio),
        "goal": goal,
        "met": bool(met),
    }


def post_rows(portal: LoadResult, bare: LoadResult) -> list[dict]:
    scenario = "registration POST (gunicorn 2 workers, PostgreSQL)"
    ratio = portal.rps / bare.rps if bare.rps else 0.0
    requests = portal.answered or 1
    return [
        _row(scenario, "throughput req/s", "bare psycopg INSERT endpoint, same run", portal.rps, bare.rps, ratio,
             f">= {POST_THROUGHPUT_GOAL:.2f}", ratio >= POST_THROUGHPUT_GOAL),
        _row(scenario, "p99 latency ms", "p50 of the same portal run", portal.p99_ms, portal.p50_ms, portal.spread,
             f"<= {LATENCY_SPREAD_GOAL:.1f}", portal.spread <= LATENCY_SPREAD_GOAL),
        _row(scenario, "errors", "bare endpoint errors, same run", portal.errors, bare.errors,
             portal.errors / requests, "0 errors", portal.errors == 0 and bare.errors == 0),
    ]


def race_rows(race: LoadResult, spread: LoadResult, race_counts: dict, spread_counts: dict) -> list[dict]:
    scenario = f"capacity race ({RACE_REGISTRANTS} registrants, {RACE_CONNECTIONS} connections)"
    ratio = race.rps / spread.rps if spread.rps else 0.0
    exact = (
        race_counts["confirmed"] == RACE_CAPACITY
        and race_counts["waitlisted"] == RACE_REGISTRANTS - RACE_CAPACITY
        and race_counts["days_over_capacity"] == 0
    )
    return [
        _row(scenario, "throughput req/s",
             f"same load over {SPREAD_EVENTS} events of capacity {SPREAD_CAPACITY}", race.rps, spread.rps, ratio,
             f">= {RACE_THROUGHPUT_GOAL:.2f}", ratio >= RACE_THROUGHPUT_GOAL),
        _row(scenario, "confirmed (in DB)", "capacity", race_counts["confirmed"], RACE_CAPACITY,
             race_counts["confirmed"] / RACE_CAPACITY,
             f"exactly {RACE_CAPACITY}, {RACE_REGISTRANTS - RACE_CAPACITY} waitlisted", exact),
        _row(scenario, "errors", "spread-run errors", race.errors, spread.errors,
             race.errors / RACE_REGISTRANTS, "0 errors", race.errors == 0 and spread.errors == 0),
    ]


# --- The benchmark -----------------------------------------------------------------------

#: The LoadResults and database counts of the last run(), for the standalone report.
last_details: dict = {}


def _require_wrk() -> None:
    if subprocess.run(["sh", "-c", "command -v wrk"], capture_output=True).returncode != 0:
        raise RuntimeError("wrk is not installed: apt-get install -y wrk (make bench does it)")


def run() -> list[dict]:
    _require_wrk()
    started = time.monotonic()
    servers: list[Gunicorn] = []
    with tempfile.TemporaryDirectory(prefix="bench-registration-") as tmp, bench_database("summit_bench_reg") as database_url:
        tmp_path = Path(tmp)
        instance = tmp_path / "instance"
        instance.mkdir()
        env = portal_env(instance, database_url)
        try:
            _flush_redis()
            log("creating the schema and seeding events")
            build_schema_and_seed(env, database_url)
            portal = Gunicorn("portal", "portal:create_app()", env, tmp_path)
            servers.append(portal)
            bare = Gunicorn(
                "bare", "tests.bench.bare_app:application", {"BENCH_BARE_DATABASE_URL": database_url}, tmp_path
            )
            servers.append(bare)
            portal.wait_ready()
            bare.wait_ready()
            cookie, csrf = fetch_session(portal.url, POST_EVENT)
            post = LoadTarget(portal, PORTAL_REGISTER_PATH, [POST_EVENT], cookie, csrf, database_url)
            baseline = LoadTarget(bare, BARE_PATH, ["bare"], cookie, csrf, database_url)

            log(f"warm-up: {WARMUP_SECONDS}s on each server")
            run_wrk(baseline, "warmup-bare", POST_CONNECTIONS, seconds=WARMUP_SECONDS)
            run_wrk(post, "warmup-portal", POST_CONNECTIONS, seconds=WARMUP_SECONDS)

            log(f"scenario 1: registration POST vs bare insert, {MEASURE_SECONDS}s each")
            bare_result = run_wrk(baseline, "bare-insert", POST_CONNECTIONS, seconds=MEASURE_SECONDS)
            portal_result = run_wrk(post, "portal-post", POST_CONNECTIONS, seconds=MEASURE_SECONDS)
            rows = post_rows(portal_result, bare_result)

            log(f"scenario 2: capacity race, {RACE_REGISTRANTS} registrants each way")
            spread = LoadTarget(portal, PORTAL_REGISTER_PATH, spread_slugs(), cookie, csrf, database_url)
            race = LoadTarget(portal, PORTAL_REGISTER_PATH, [RACE_EVENT], cookie, csrf, database_url)
            race_runs, spread_runs = [], []
            for index, size in enumerate(race_parts(), start=1):
                sides = [("race", race, race_runs), ("spread", spread, spread_runs)]
                for side, target, runs in sides if index % 2 else sides[::-1]:
                    runs.append(run_wrk(target, f"{side}-part{index}", RACE_CONNECTIONS, quota=size))
            race_result = combine("race, 1 event", race_runs)
            spread_result = combine(f"spread, {SPREAD_EVENTS} events", spread_runs)
            log(race_result.describe())
            log(spread_result.describe())
            race_counts = registration_counts(database_url, [RACE_EVENT])
            spread_counts = registration_counts(database_url, spread_slugs())
            log(f"race event in the database: {race_counts}")
            log(f"spread events in the database: {spread_counts}")
            rows += race_rows(race_result, spread_result, race_counts, spread_counts)

            last_details.clear()
            last_details.update(
                runs=[bare_result, portal_result, spread_result, race_result],
                race_counts=race_counts,
                spread_counts=spread_counts,
            )
        except BaseException:
            for server in servers:
                if server.proc.poll() is not None or "Traceback" in server.output():
                    log(f"gunicorn {server.name} log tail:\n{server.output()[-3000:]}")
            raise
        finally:
            for server in servers:
                server.stop()
            _flush_redis()
    log(f"done in {time.monotonic() - started:.0f}s")
    return rows


def format_table(rows: list[dict]) -> str:
    header = ["scenario", "metric", "value", "baseline", "baseline value", "ratio", "goal", "met"]
    body = [
        [
            row["scenario"], row["metric"], f"{row['value']:.1f}", row["baseline"], f"{row['baseline_value']:.1f}",
            f"{row['ratio']:.2f}", row["goal"], "yes" if row["met"] else "NO",
        ]
        for row in rows
    ]
    widths = [max(len(str(cells[i])) for cells in [header, *body]) for i in range(len(header))]
    lines = ["  ".join(str(cell).ljust(width) for cell, width in zip(cells, widths)) for cells in [header, *body]]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def main() -> int:
    rows = run()
    print(format_table(rows))
    print()
    print("Runs:")
    for result in last_details.get("runs", []):
        print("  " + result.describe())
    print(f"  race event: {last_details.get('race_counts')}")
    print(f"  spread events: {last_details.get('spread_counts')}")
    return 0 if all(row["met"] for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
