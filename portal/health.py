"""/healthz: is the database reachable, and can the broker take a task?

The answer says "ok" or "unavailable" per dependency; why is logged, not shown,
so the endpoint tells a load balancer what it needs and an outsider nothing more.
"""
import logging
import os
from pathlib import Path

import redis
from flask import Blueprint, current_app, jsonify
from sqlalchemy import text

from portal.extensions import db

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


@bp.get("/healthz")
def healthz():
    db_up, db_detail = database_ok()
    broker_up, broker_detail = broker_ok()
    healthy = db_up and broker_up
    body = {
        "status": "ok" if healthy else "unavailable",
        "database": {"ok": db_up, "detail": db_detail},
        "broker": {"ok": broker_up, "detail": broker_detail},
    }
    response = jsonify(body)
    response.status_code = 200 if healthy else 503
    response.headers["Cache-Control"] = "no-store"
    return response
