"""Heartbeats live in Redis when it is configured and in the database otherwise, and outlive a Redis outage."""
import socket

import pytest
import redis as redis_lib
from sqlalchemy import select

from portal.extensions import db
from portal.liveness.models import Heartbeat
from portal.liveness.service import REDIS_KEY
from tests.support.mail import GENEROUS
from tests.support.worker import start_worker


def test_heartbeats_are_kept_in_redis_when_it_is_configured_and_in_the_database_otherwise(
    liveness_env, health, tmp_path
):
    worker = start_worker(liveness_env, tmp_path, name="store-check@%h")
    try:
        health.until(lambda body: body["workers"]["bulk"]["state"] == "ok")
    finally:
        worker.stop()
    node = f"store-check@{socket.gethostname()}"
    with health.app.app_context():
        rows = db.session.execute(select(Heartbeat.name, Heartbeat.queues)).all()
    if liveness_env["REDIS_URL"]:
        with redis_lib.Redis.from_url(liveness_env["REDIS_URL"]) as client:
            assert node.encode() in client.hgetall(REDIS_KEY)
        assert rows == []
    else:
        assert rows == [(node, "bulk,mail,portal")]


@pytest.mark.services
def test_during_a_redis_outage_healthz_says_unavailable_and_missing_and_the_heartbeat_resumes_after(
    liveness_env, make_health, redis_server, tmp_path
):
    liveness_env["REDIS_URL"] = redis_server.url
    health = make_health()
    worker = start_worker(liveness_env, tmp_path)
    try:
        health.until(lambda body: body["workers"]["transactional"]["state"] == "ok")
        redis_server.stop()
        response = health()
        assert response.status_code == 503
        assert response.json["broker"] == {"ok": False, "detail": "unavailable"}
        assert response.json["workers"]["transactional"] == {"state": "missing", "age_seconds": None}
        text = response.get_data(as_text=True)
        for internal in (str(redis_server.port), "Error", "refused", "redis"):
            assert internal not in text
        redis_server.start()
        health.until(lambda body: body["workers"]["transactional"]["state"] == "ok", timeout=GENEROUS,
                     message="the worker's heartbeat after Redis came back")
    finally:
        worker.stop()
