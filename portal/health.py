"""/healthz: can this web process serve (database, broker), and are the workers and beat alive?

The answer says "ok" or "unavailable" per dependency, and "ok", "late" or
"missing" per worker lane and for beat (portal.liveness); why is logged, not
shown, so the endpoint tells a load balancer what it needs and an outsider
nothing more: no host or node names, no error texts.

The status code follows the web process's own dependencies only: 503 when the
database or the broker is down, 200 otherwise, whatever the workers do, so a
dead worker never takes the web out of a load balancer. `/healthz?strict` is for
alerting: 503 unless every worker lane and beat are ok too.
"""
import logging
import os
from pathlib import Path

import redis
from flask import Blueprint, current_app, jsonify, request
from sqlalchemy import text

from portal.extensions import db
from portal.liveness.service import Report, current_report, liveness_report

bp = Blueprint("health", __name__)
log = logging.getLogger(__name__)
UNAVAILABLE = "unavailable"


def database_ok() -> tuple[bool, str]:
    try:
        db.session.execute(text("SELECT 1"))
        db.session.rollback()
    except Exception as exc:
        db.session.rollback()
        log.warning("health check: database unavailable: %s", exc)
        return False, UNAVAILABLE
    return True, "ok"


def broker_ok() -> tuple[bool, str]:
    config = current_app.config
    if config["REDIS_URL"]:
        try:
            with redis.Redis.from_url(config["REDIS_URL"], socket_connect_timeout=1, socket_timeout=1) as client:
                client.ping()
        except redis.RedisError as exc:
            log.warning("health check: broker unavailable: %s", exc)
            return False, UNAVAILABLE
        return True, "ok"
    folder = Path(config["BROKER_FOLDER"])
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        log.warning("health check: broker folder unavailable: %s", exc)
        return False, UNAVAILABLE
    if not os.access(folder, os.W_OK):
        log.warning("health check: broker folder %s is not writable", folder)
        return False, UNAVAILABLE
    return True, "ok"


def background_report(readable: bool) -> Report:
    """The liveness of each lane and of beat; all missing when the heartbeats cannot be read."""
    if not readable:
        return liveness_report([])
    report = current_report()
    db.session.rollback()  # only read; on SQLite the read held the write lock
    return report


@bp.get("/healthz")
def healthz():
    db_up, db_detail = database_ok()
    broker_up, broker_detail = broker_ok()
    healthy = db_up and broker_up
    # With Redis the heartbeats live in the broker, on the embedded default in the database.
    report = background_report(broker_up if current_app.config["REDIS_URL"] else db_up)
    body = {
        "status": "ok" if healthy else "unavailable",
        "database": {"ok": db_up, "detail": db_detail},
        "broker": {"ok": broker_up, "detail": broker_detail},
        "background": "ok" if report.all_ok else "degraded",
        "workers": {lane: liveness.public() for lane, liveness in report.lanes.items()},
        "beat": report.beat.public(),
    }
    response = jsonify(body)
    serving = healthy and (report.all_ok or "strict" not in request.args)
    response.status_code = 200 if serving else 503
    response.headers["Cache-Control"] = "no-store"
    return response
