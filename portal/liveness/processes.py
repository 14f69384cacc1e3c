"""Where heartbeats come from: a step in every worker's consumer, and beat's own scheduler.

A worker's heartbeat is written by its consumer's timer, which runs only while the
consumer is connected and consuming (the step stops with it: lost broker, shutdown)
and, on Redis, in the very event loop that receives tasks. It names the queues the
consumer actually consumes, so each lane's state comes from what workers do, not
from how they were meant to be started. Beat's is written from its scheduling loop,
after each pass over the schedule. Both are documented extension points of Celery:
a consumer bootstep (`app.steps['consumer']`) and a `beat_scheduler` class.
"""
import logging
import time

from celery import bootsteps
from celery.beat import PersistentScheduler
from flask import Flask

from portal.extensions import db
from portal.liveness.service import BEAT, record_heartbeat

log = logging.getLogger(__name__)


def write_heartbeat(app: Flask, name: str, queues: list[str] | tuple[str, ...]) -> None:
    """Record and commit one heartbeat; a failure is logged, never raised into Celery's loop."""
    with app.app_context():
        try:
            record_heartbeat(name, queues)
            db.session.commit()
        except Exception as exc:  # the store is down: the heartbeat ages, and /healthz says so
            db.session.rollback()
            log.warning("heartbeat of %s not recorded (%s)", name, type(exc).__name__)


def bound_to(cls: type, app: Flask) -> type:
    """`cls` for this Flask app: Celery instantiates steps and schedulers itself, so the app travels on the class."""
    return type(cls.__name__, (cls,), {"flask_app": app, "__module__": cls.__module__})


class WorkerHeartbeat(bootsteps.StartStopStep):
    """Consumer step: the worker's heartbeat every HEARTBEAT_SECONDS while it consumes."""

    requires = {"celery.worker.consumer.tasks:Tasks"}
    flask_app: Flask

    def __init__(self, parent, **kwargs):
        super().__init__(parent, **kwargs)
        self.tref = None

    def start(self, consumer) -> None:
        self.beat(consumer)
        self.tref = consumer.timer.call_repeatedly(
            self.flask_app.config["HEARTBEAT_SECONDS"], self.beat, (consumer,), priority=10
        )

    def stop(self, consumer) -> None:
        if self.tref is not None:
            self.tref.cancel()
            self.tref = None

    shutdown = stop

    def beat(self, consumer) -> None:
        task_consumer = consumer.task_consumer
        if task_consumer is None:  # between a lost connection and the step's stop
            return
        write_heartbeat(self.flask_app, consumer.hostname, [queue.name for queue in task_consumer.queues])


class HeartbeatScheduler(PersistentScheduler):
    """Beat's usual scheduler that also records beat's heartbeat, at least every HEARTBEAT_SECONDS."""

    flask_app: Flask
    _written_at: float | None = None

    def tick(self, *args, **kwargs) -> float:
        delay = super().tick(*args, **kwargs)
        every = self.flask_app.config["HEARTBEAT_SECONDS"]
        now = time.monotonic()
        if self._written_at is None or now - self._written_at >= every:
            write_heartbeat(self.flask_app, BEAT, ())
            self._written_at = now
        # Wake up for the next heartbeat even when nothing is due before it.
        return min(delay, max(self._written_at + every - time.monotonic(), 0.0))
