"""Liveness: the heartbeats workers and beat leave, what they say about each lane, and mail that is not leaving.

Each worker's consumer records one every HEARTBEAT_SECONDS, naming the queues it
consumes; beat records its own from its scheduling loop (portal.liveness.processes).
They live in Redis when REDIS_URL is set (one hash), in the `heartbeat` table on the
embedded default. A heartbeat older than HEARTBEAT_LATE_SECONDS is late; one older
than HEARTBEAT_MISSING_SECONDS, or none at all, is missing. Ages come from the
writers' clocks: hosts must keep time (NTP), as they must for every timestamp here.
"""
import json
import logging
import time
from dataclasses import dataclass
from datetime import timedelta, timezone

import redis
from flask import current_app
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import SQLAlchemyError

from portal.celery_app import DEFAULT_QUEUE
from portal.database import utcnow
from portal.extensions import db
from portal.liveness.models import Heartbeat
from portal.mail import BULK_QUEUE, MAIL_QUEUE
from portal.mail.models import EmailStatus, Lane, OutgoingEmail

log = logging.getLogger(__name__)

OK, LATE, MISSING = "ok", "late", "missing"
#: The name beat's heartbeat is kept under (workers use their node names).
BEAT = "beat"
REDIS_KEY = "portal-liveness"
#: The worker lanes compose runs, and the queues each needs a live consumer for.
WORKER_LANES = {Lane.TRANSACTIONAL.value: (MAIL_QUEUE, DEFAULT_QUEUE), Lane.BULK.value: (BULK_QUEUE,)}


class HeartbeatStoreError(Exception):
    """Heartbeats could not be read or written: Redis (or, embedded, the database) did not answer."""


@dataclass(frozen=True)
class Sign:
    """One process's last heartbeat."""

    name: str
    queues: tuple[str, ...]
    #: When it was written, in epoch seconds.
    at: float


def _redis() -> redis.Redis:
    # Seconds, not the default of forever: /healthz and a worker's event loop both wait on it.
    return redis.Redis.from_url(current_app.config["REDIS_URL"], socket_connect_timeout=1, socket_timeout=1)


def record_heartbeat(name: str, queues: list[str] | tuple[str, ...] = ()) -> None:
    """Record that `name` is alive now, consuming `queues`; forget processes not heard from for too long.

    On the embedded default the caller commits.
    """
    now = time.time()
    forget_before = now - current_app.config["HEARTBEAT_MISSING_SECONDS"]
    if current_app.config["REDIS_URL"]:
        try:
            with _redis() as client:
                client.hset(REDIS_KEY, name, json.dumps({"queues": sorted(queues), "at": now}))
                stale = [sign.name for sign in _parse(client.hgetall(REDIS_KEY)) if sign.at < forget_before]
                if stale:
                    client.hdel(REDIS_KEY, *stale)
        except redis.RedisError as exc:
            raise HeartbeatStoreError(type(exc).__name__) from exc
        return
    seen_at = utcnow()
    try:
        updated = db.session.execute(
            update(Heartbeat).where(Heartbeat.name == name).values(queues=",".join(sorted(queues)), seen_at=seen_at)
            .execution_options(synchronize_session=False)
        ).rowcount
        if not updated:
            db.session.add(Heartbeat(name=name, queues=",".join(sorted(queues)), seen_at=seen_at))
        db.session.execute(delete(Heartbeat).where(
            Heartbeat.seen_at < seen_at - timedelta(seconds=current_app.config["HEARTBEAT_MISSING_SECONDS"])
        ))
        db.session.flush()
    except SQLAlchemyError as exc:
        raise HeartbeatStoreError(type(exc).__name__) from exc


def heartbeats() -> list[Sign]:
    """Every heartbeat recorded (old ones included: their age decides what they mean)."""
    if current_app.config["REDIS_URL"]:
        try:
            with _redis() as client:
                return _parse(client.hgetall(REDIS_KEY))
        except redis.RedisError as exc:
            raise HeartbeatStoreError(type(exc).__name__) from exc
    try:
        rows = db.session.execute(select(Heartbeat.name, Heartbeat.queues, Heartbeat.seen_at)).all()
    except SQLAlchemyError as exc:
        raise HeartbeatStoreError(type(exc).__name__) from exc
    # seen_at is naive UTC, as every timestamp column is.
    return [Sign(name, tuple(filter(None, queues.split(","))), seen_at.replace(tzinfo=timezone.utc).timestamp())
            for name, queues, seen_at in rows]


def _parse(fields: dict) -> list[Sign]:
    signs = []
    for name, value in fields.items():
        try:
            data = json.loads(value)
            signs.append(Sign(name.decode(), tuple(data["queues"]), float(data["at"])))
        except (ValueError, KeyError, TypeError):
            continue  # not a heartbeat this module wrote
    return signs


# ---------------------------------------------------------------- what they mean


@dataclass(frozen=True)
class Liveness:
    state: str
    #: Whole seconds since the last heartbeat; None when there is none.
    age_seconds: int | None

    def public(self) -> dict:
        return {"state": self.state, "age_seconds": self.age_seconds}


@dataclass(frozen=True)
class Report:
    #: Per worker lane (WORKER_LANES), the freshest heartbeat that covers every one of its queues.
    lanes: dict[str, Liveness]
    beat: Liveness

    @property
    def all_ok(self) -> bool:
        return self.beat.state == OK and all(lane.state == OK for lane in self.lanes.values())


def liveness_of(at: float | None, now: float | None = None) -> Liveness:
    if at is None:
        return Liveness(MISSING, None)
    config = current_app.config
    # A writer's clock a little ahead of ours must not make an age negative.
    age = max((now or time.time()) - at, 0.0)
    if age > config["HEARTBEAT_MISSING_SECONDS"]:
        state = MISSING
    elif age > config["HEARTBEAT_LATE_SECONDS"]:
        state = LATE
    else:
        state = OK
    return Liveness(state, int(age))


def liveness_report(signs: list[Sign]) -> Report:
    """Each lane is as alive as the least covered of its queues: a lane whose queues nobody consumes is missing."""
    now = time.time()
    newest: dict[str, float] = {}
    for sign in signs:
        for queue in sign.queues:
            newest[queue] = max(newest.get(queue, sign.at), sign.at)
    lanes = {}
    for lane, queues in WORKER_LANES.items():
        ats = [newest.get(queue) for queue in queues]
        lanes[lane] = liveness_of(None if None in ats else min(ats), now)
    beat = max((sign.at for sign in signs if sign.name == BEAT), default=None)
    return Report(lanes, liveness_of(beat, now))


def current_report() -> Report:
    """The report from the heartbeats recorded now; all missing (and logged) when they cannot be read."""
    try:
        signs = heartbeats()
    except HeartbeatStoreError as exc:
        log.warning("heartbeats unreadable (%s): every worker lane and beat count as missing", exc)
        signs = []
    return liveness_report(signs)


def liveness_of_process(signs: list[Sign], name: str) -> Liveness:
    return liveness_of(max((sign.at for sign in signs if sign.name == name), default=None))


# ---------------------------------------------------------------- the dashboard's warnings


def lane_late_minutes() -> dict[str, int]:
    config = current_app.config
    return {Lane.TRANSACTIONAL.value: config["OUTBOX_LATE_MINUTES"], Lane.BULK.value: config["OUTBOX_BULK_LATE_MINUTES"]}


def mail_not_leaving() -> dict[str, int]:
    """Lanes whose oldest waiting message (queued or being sent) is older than the lane's limit: lane -> its minutes."""
    oldest = db.session.execute(
        select(OutgoingEmail.lane, func.min(OutgoingEmail.created_at))
        .where(OutgoingEmail.status.in_([EmailStatus.QUEUED.value, EmailStatus.SENDING.value]))
        .group_by(OutgoingEmail.lane)
    ).all()
    now, limits = utcnow(), lane_late_minutes()
    waited = {lane: int((now - created_at).total_seconds() // 60) for lane, created_at in oldest}
    return {lane: minutes for lane, minutes in waited.items() if lane in limits and minutes >= limits[lane]}


def _duration(seconds: int) -> str:
    if seconds < 120:
        return f"{seconds} seconds"
    if seconds < 2 * 3600:
        return f"{seconds // 60} minutes"
    return f"{seconds // 3600} hours"


def _last_heard(liveness: Liveness) -> str:
    if liveness.age_seconds is None:
        return "no heartbeat recorded"
    return f"last heartbeat {_duration(liveness.age_seconds)} ago"


def dashboard_warnings(report: Report) -> list[str]:
    """What an admin must act on: mail not leaving, a lane without a live worker, beat late."""
    warnings = []
    limits = lane_late_minutes()
    for lane, minutes in sorted(mail_not_leaving().items()):
        warnings.append(f"{lane.capitalize()} mail is not leaving: the oldest message has waited "
                        f"{_duration(minutes * 60)} (the limit is {limits[lane]} minutes).")
    for lane, liveness in report.lanes.items():
        if liveness.state != OK:
            warnings.append(f"The {lane} lane has no live worker ({liveness.state}: {_last_heard(liveness)}), "
                            "so its mail and tasks wait.")
    if report.beat.state != OK:
        warnings.append(f"Beat is {report.beat.state} ({_last_heard(report.beat)}): the outbox sweep, digests and "
                        "other scheduled jobs are not being started.")
    return warnings
