"""Liveness: heartbeats of every worker lane and of beat, reported by /healthz and on the admin dashboard."""
from flask import Flask


def init_app(app: Flask) -> None:
    from portal.liveness.cli import liveness_cli
    from portal.liveness.processes import HeartbeatScheduler, WorkerHeartbeat, bound_to

    celery = app.extensions["celery"]
    celery.steps["consumer"].add(bound_to(WorkerHeartbeat, app))
    celery.conf.beat_scheduler = bound_to(HeartbeatScheduler, app)
    app.cli.add_command(liveness_cli)
