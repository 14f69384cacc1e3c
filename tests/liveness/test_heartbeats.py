"""Each worker lane and beat leave heartbeats that /healthz reports as ok, late or missing: real processes."""
import socket

from portal.extensions import db
from portal.liveness.service import heartbeats
from tests.support.wait import wait_until
from tests.support.worker import start_beat, start_worker


def states(body: dict) -> dict:
    return {"transactional": body["workers"]["transactional"]["state"], "bulk": body["workers"]["bulk"]["state"],
            "beat": body["beat"]["state"]}


def test_a_running_worker_for_every_lane_and_beat_are_ok_and_healthz_is_200_even_in_strict_mode(
    liveness_env, health, tmp_path
):
    worker = start_worker(liveness_env, tmp_path)
    beat = start_beat(liveness_env, tmp_path)
    try:
        response = health.until(lambda body: body["background"] == "ok")
        assert states(response.json) == {"transactional": "ok", "bulk": "ok", "beat": "ok"}
        assert response.status_code == 200
        assert health(strict=True).status_code == 200
    finally:
        beat.stop()
        worker.stop()


def test_a_stopped_worker_is_late_then_missing_while_the_web_stays_200(liveness_env, health, tmp_path):
    worker = start_worker(liveness_env, tmp_path)
    try:
        health.until(lambda body: body["workers"]["transactional"]["state"] == "ok")
    finally:
        worker.stop()
    late = health.until(lambda body: body["workers"]["transactional"]["state"] == "late")
    assert late.json["workers"]["bulk"]["state"] == "late"
    assert late.json["workers"]["transactional"]["age_seconds"] >= 2
    assert late.status_code == 200
    assert health(strict=True).status_code == 503
    missing = health.until(lambda body: body["workers"]["transactional"]["state"] == "missing")
    assert missing.json["workers"]["transactional"]["age_seconds"] >= 5
    assert missing.status_code == 200
    assert health(strict=True).status_code == 503


def test_a_stopped_beat_is_late(liveness_env, health, tmp_path):
    beat = start_beat(liveness_env, tmp_path)
    try:
        health.until(lambda body: body["beat"]["state"] == "ok")
    finally:
        beat.stop()
    response = health.until(lambda body: body["beat"]["state"] == "late")
    assert response.json["beat"]["age_seconds"] >= 2
    assert response.status_code == 200
    assert health(strict=True).status_code == 503


def test_each_lane_is_ok_only_with_a_worker_consuming_its_own_queues(liveness_env, health, tmp_path):
    transactional = start_worker(liveness_env, tmp_path, queues="mail,portal", name="transactional@%h")
    try:
        response = health.until(lambda body: body["workers"]["transactional"]["state"] == "ok")
        assert response.json["workers"]["bulk"]["state"] == "missing"
        bulk = start_worker(liveness_env, tmp_path, queues="bulk", name="bulk@%h")
        try:
            response = health.until(lambda body: body["workers"]["bulk"]["state"] == "ok")
            assert response.json["workers"]["transactional"]["state"] == "ok"
        finally:
            bulk.stop()
    finally:
        transactional.stop()


def test_a_worker_consuming_only_part_of_a_lane_does_not_make_it_ok(liveness_env, health, tmp_path):
    mail_only = start_worker(liveness_env, tmp_path, queues="mail", name="mail-only@%h")
    try:
        wait_until(lambda: recorded_queues(health.app, f"mail-only@{socket.gethostname()}") == ("mail",))
        # Its heartbeats arrive, but nobody consumes the portal queue: the transactional lane is not served.
        assert states(health().json)["transactional"] == "missing"
    finally:
        mail_only.stop()


def recorded_queues(app, name: str) -> tuple[str, ...] | None:
    with app.app_context():
        queues = next((sign.queues for sign in heartbeats() if sign.name == name), None)
        db.session.rollback()
        return queues


def test_healthz_names_no_host_node_or_queue(liveness_env, health, tmp_path):
    worker = start_worker(liveness_env, tmp_path, name="secret-node-name@%h")
    try:
        text = health.until(lambda body: body["workers"]["transactional"]["state"] == "ok").get_data(as_text=True)
    finally:
        worker.stop()
    for internal in ("secret-node-name", socket.gethostname(), "celery", '"mail"', '"portal"', "redis://", "sqlite"):
        assert internal not in text
