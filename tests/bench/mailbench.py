"""What the mail benchmarks share: the portal's environment, subscribers, workers, the smtplib baseline, CPU and RSS.

Workers are the real `celery -A worker.app:celery_app worker` processes, with the
queues and concurrency of the deployment being measured (COMPOSE_* is
docker-compose.yml's two workers, MAKE_RUN the single worker of `make run`). The
baseline is a plain smtplib loop: the very messages the portal sent, rendered with
`portal.mail.message.message_bytes`, sent with `SMTP.sendmail` over persistent
connections, one sender process per connection, each holding its share in memory
before the clock starts.
"""
import multiprocessing
import os
import pickle
import resource
import smtplib
import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import exists, func, insert, select, text
from sqlalchemy.engine import make_url

from tests.bench import PG_ADMIN_URL, progress
from tests.support.worker import CeleryProcess

INSERT_CHUNK = 5000
MIB = 1024 * 1024
CLK_TCK = os.sysconf("SC_CLK_TCK")
#: How long the baseline's senders may take to load their shares (a ceiling).
LOAD_SECONDS = 600

# Subscribers cycle through these, so a batch renders several variants as a real list would.
TOPIC_MIXES = (("regulatory",), ("clinical-trials", "community"), ("journals",), ("policy", "regulatory"),
               ("research-funding", "journals", "community"), ("community",), ("policy",))
FIRST_NAMES = ("", "Ada", "Grace", "Zoë", "Rosalind", "", "Jean-Luc", "Chiara")

# "spawn", not fork: the parent holds database and broker connections a forked child would inherit.
_CONTEXT = multiprocessing.get_context("spawn")


@dataclass(frozen=True)
class WorkerSpec:
    """One `celery worker` of a deployment: its queues and pool size."""

    name: str
    queues: str
    concurrency: int


#: docker-compose.yml: `worker` (transactional) and `worker-bulk`.
COMPOSE_TRANSACTIONAL = WorkerSpec("transactional", "mail,portal", 4)
COMPOSE_BULK = WorkerSpec("bulk", "bulk", 2)
#: `make run` (portal/devserver.py): one worker for every queue.
MAKE_RUN = WorkerSpec("single", "mail,portal,bulk", 2)


def portal_env(tmp: Path, database_url: str, relay_port: int, redis_url: str, **extra: str) -> dict:
    return {
        "PORTAL_INSTANCE_PATH": str(tmp / "instance"),
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "SECRET_KEY": "bench-secret-key-not-for-production",
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": str(relay_port),
        "MAIL_DEFAULT_SENDER": "Policy Summit <summit@example.org>",
        "PORTAL_BASE_URL": "http://127.0.0.1:5000",
        # Checking the catalog's links would go to the internet before composing.
        "DIGEST_CHECK_LINKS_FIRST": "0",
        "RATELIMIT_ENABLED": "0",
        **extra,
    }


def start_worker(spec: WorkerSpec, env: dict, log_dir: Path) -> CeleryProcess:
    worker = CeleryProcess(
        env, log_dir / f"worker-{spec.name}-{time.monotonic_ns()}.log", "worker", "--loglevel=INFO",
        "-Q", spec.queues, f"--concurrency={spec.concurrency}", "--without-gossip", "--without-mingle",
        "--without-heartbeat", "-n", f"bench-{spec.name}-{os.getpid()}-{time.monotonic_ns()}@%h",
    )
    try:
        worker.wait_for_output("ready.")
    except BaseException:
        worker.stop()
        raise
    return worker


def start_beat(env: dict, log_dir: Path) -> CeleryProcess:
    beat = CeleryProcess(env, log_dir / "beat.log", "beat", "--loglevel=INFO", "-s", str(log_dir / "beat-schedule"))
    try:
        beat.wait_for_output("beat: Starting")
    except BaseException:
        beat.stop()
        raise
    return beat


# ---------------------------------------------------------------- the data


def seed_catalog() -> None:
    """The catalog (the digests' highlights) and an event open for registration."""
    from portal.extensions import db
    from portal.resources.service import seed_resources
    from tests.support.events import build_event

    seed_resources()
    db.session.add(build_event("bench-summit", day_capacity=1_000_000, privacy_policy_version="bench-1"))
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


def clear_mail_and_subscribers() -> None:
    """Back to the seeded catalog: the next edition is the week's first again, for new subscribers."""
    from portal.extensions import db

    db.session.execute(text("TRUNCATE digest_edition, subscriber, outgoing_email, mail_send_window CASCADE"))
    db.session.commit()


def edition_counts(edition_id: int) -> dict:
    """The edition's planned count and its outbox rows by status, with the span of their sent_at."""
    from portal.digests.models import DigestDelivery, DigestEdition
    from portal.extensions import db
    from portal.mail.models import OutgoingEmail

    status, planned = db.session.execute(
        select(DigestEdition.status, DigestEdition.planned).where(DigestEdition.id == edition_id)).one()
    rows = db.session.execute(
        select(OutgoingEmail.status, func.count(), func.min(OutgoingEmail.sent_at), func.max(OutgoingEmail.sent_at),
               func.max(OutgoingEmail.attempts))
        .join(DigestDelivery, DigestDelivery.email_id == OutgoingEmail.id)
        .where(DigestDelivery.edition_id == edition_id).group_by(OutgoingEmail.status)
    ).all()
    db.session.commit()  # a fresh snapshot next time
    by_status = {row[0]: row[1] for row in rows}
    sent = next((row for row in rows if row[0] == "sent"), None)
    return {"edition_status": status, "planned": planned, "by_status": by_status,
            "sent": by_status.get("sent", 0), "first_sent": sent[2] if sent else None,
            "last_sent": sent[3] if sent else None, "max_attempts": max((row[4] for row in rows), default=0)}


def edition_finished(edition_id: int) -> bool:
    """Composed, and no bulk mail queued or sending any more: two cheap queries, fit to poll.

    (edition_counts joins every digest of the edition with its outbox row: at
    100,000 that costs PostgreSQL seconds of CPU, too much to ask every few seconds.)
    """
    from portal.digests.models import DigestEdition
    from portal.extensions import db
    from portal.mail.models import Lane, OutgoingEmail

    status = db.session.scalar(select(DigestEdition.status).where(DigestEdition.id == edition_id))
    pending = db.session.scalar(select(exists().where(
        OutgoingEmail.status.in_(["queued", "sending"]), OutgoingEmail.lane == Lane.BULK.value)))
    db.session.commit()  # a fresh snapshot next time
    return status != "composing" and not pending


def planned_message_ids(edition_id: int) -> set[str]:
    """The Message-IDs (without <>) of the edition's digests, as the outbox fixed them."""
    from portal.digests.models import DigestDelivery
    from portal.extensions import db
    from portal.mail.models import OutgoingEmail

    ids = db.session.scalars(
        select(OutgoingEmail.message_id).join(DigestDelivery, DigestDelivery.email_id == OutgoingEmail.id)
        .where(DigestDelivery.edition_id == edition_id)
    ).all()
    db.session.commit()
    return {message_id.strip("<>") for message_id in ids}


# ---------------------------------------------------------------- the baseline


def write_shares(statement, shares: list[Path]) -> tuple[int, int]:
    """The rows `statement` selects, rendered as delivery renders them (message_bytes), dealt round-robin.

    Returns (messages, total bytes).
    """
    from portal.extensions import db
    from portal.mail.message import message_bytes

    started = time.perf_counter()
    files = [share.open("wb") for share in shares]
    total = size = 0
    try:
        for total, row in enumerate(db.session.scalars(statement.execution_options(yield_per=1000)), 1):
            data = message_bytes(row)
            size += len(data)
            pickle.dump((row.from_address, row.to_address, data), files[total % len(files)])
    finally:
        for file in files:
            file.close()
    db.session.commit()
    progress(f"   rendered {total:,} messages for smtplib ({size / max(total, 1):,.0f} bytes each) "
             f"in {time.perf_counter() - started:.1f}s")
    return total, size


def _sendmail_share(share: Path, port: int, barrier, done, cpu) -> None:
    """A sender process: its share into memory, then all of it over one connection once everyone is ready."""
    from email.utils import parseaddr

    messages = []
    with share.open("rb") as file:
        while True:
            try:
                messages.append(pickle.load(file))
            except EOFError:
                break
    barrier.wait(timeout=LOAD_SECONDS)
    before = resource.getrusage(resource.RUSAGE_SELF)
    with smtplib.SMTP("127.0.0.1", port) as smtp:
        for sender, recipient, data in messages:
            smtp.sendmail(parseaddr(sender)[1], [parseaddr(recipient)[1]], data)
    done.value = time.time()
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu.value = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


@dataclass
class BaselineResult:
    messages: int
    seconds: float
    cpu: dict

    @property
    def rate(self) -> float:
        return self.messages / self.seconds


def plain_smtplib(shares: list[Path], messages: int, port: int, relay) -> BaselineResult:
    """Send the shares with smtplib, one process and connection each; seconds from the start to the last 250."""
    barrier = _CONTEXT.Barrier(len(shares) + 1)
    done = [_CONTEXT.Value("d", 0.0) for _ in shares]
    used = [_CONTEXT.Value("d", 0.0) for _ in shares]
    senders = [_CONTEXT.Process(target=_sendmail_share, args=(share, port, barrier, finished, cpu), daemon=True)
               for share, finished, cpu in zip(shares, done, used)]
    for sender in senders:
        sender.start()
    try:
        barrier.wait(timeout=LOAD_SECONDS)  # every share is in its sender's memory
        meter = CpuMeter({"postfix": relay.pids})
        started = time.time()
        for sender in senders:
            sender.join(timeout=3600)
        cpu = {"smtplib senders": sum(cpu.value for cpu in used), **meter.stop()}
    finally:
        for sender in senders:
            if sender.is_alive():
                sender.kill()
                sender.join()
    if not all(sender.exitcode == 0 for sender in senders):
        raise RuntimeError("benchmark run is not valid: a smtplib sender failed")
    return BaselineResult(messages, max(finished.value for finished in done) - started, cpu)


# ---------------------------------------------------------------- CPU and RSS (Linux /proc)


def _cpu_seconds(pid: int, children: bool = False) -> float | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2:].split()
    ticks = int(fields[11]) + int(fields[12]) + ((int(fields[13]) + int(fields[14])) if children else 0)
    return ticks / CLK_TCK


def machine_jiffies() -> tuple[int, int]:
    """(busy, total) jiffies over all cores since boot."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return sum(values[:8]) - values[3] - values[4], sum(values[:8])


def process_tree(pid: int) -> list[int]:
    """`pid` and its children (from every thread), recursively."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        try:
            tasks = os.listdir(f"/proc/{current}/task")
        except OSError:
            continue
        for task in tasks:
            try:
                todo.extend(int(child) for child in Path(f"/proc/{current}/task/{task}/children").read_text().split())
            except OSError:
                pass
    return found


def database_backends(database_url: str) -> list[int]:
    """PIDs of the PostgreSQL backends connected to the bench database."""
    import psycopg

    name = make_url(database_url).database
    with psycopg.connect(PG_ADMIN_URL.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as conn:
        return [row[0] for row in conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", (name,))]


class CpuMeter:
    """CPU seconds used by groups of processes (each a callable giving PIDs) between start and stop().

    A process found only at the end counts from zero; one gone by the end is
    lost (Postfix's reaped children are counted through its master's cutime).
    """

    def __init__(self, groups: dict):
        self.groups = groups
        self.before = {name: self._sample(pids()) for name, pids in groups.items()}
        self.box_before = machine_jiffies()
        self.started = time.monotonic()

    @staticmethod
    def _sample(pids) -> dict[int, float]:
        sample = {}
        for pid in pids:
            seconds = _cpu_seconds(pid, children=True)
            if seconds is not None:
                sample[pid] = seconds
        return sample

    def stop(self) -> dict:
        box_after = machine_jiffies()
        used = {}
        for name, pids in self.groups.items():
            after = self._sample(pids())
            used[name] = sum(seconds - self.before[name].get(pid, 0.0) for pid, seconds in after.items())
        busy, total = (after - before for after, before in zip(box_after, self.box_before))
        used["wall"] = time.monotonic() - self.started
        used["machine busy"] = busy / total if total else 0.0
        return used


def describe_cpu(cpu: dict, messages: int) -> str:
    parts = [f"{name} {seconds * 1000 / messages:.2f} ms" for name, seconds in cpu.items()
             if name not in ("wall", "machine busy")]
    return (f"CPU per message: {', '.join(parts)}; machine {cpu['machine busy']:.0%} busy over {cpu['wall']:.1f}s "
            f"({os.cpu_count()} cores)")


def pool_processes(pid: int) -> list[int]:
    """A worker's pool processes: the children of its main process."""
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


def expect(condition: bool, problem: str) -> None:
    if not condition:
        raise RuntimeError(f"benchmark run is not valid: {problem}")
