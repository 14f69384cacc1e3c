"""Celery bound to the Flask app (Flask's own Celery example), and tasks published after commit.

Domains own their tasks: each declares them in its `tasks.py` and calls
`register_tasks` from its own `init_app` with the module, its queue routes
and its beat entries. This module knows no domain by name.

`enqueue_after_commit` is how any code asks for a task because of a change
it is making: the task is published only once that change is committed, so a
worker never looks for a row that is not there yet, and a rolled-back change
starts nothing.
"""
import logging
import os
from contextlib import nullcontext

from celery import Celery, Task
from flask import Flask, current_app, has_app_context
from flask_sqlalchemy.session import Session
from sqlalchemy import event

from portal.extensions import db

log = logging.getLogger(__name__)

DEFAULT_QUEUE = "portal"

_PENDING = "tasks.pending"  # asked for in the open transaction
_COMMITTED = "tasks.committed"  # committed, not yet handed to the broker
_BATCHES = "tasks.batches"  # per task name: the list of items of the open transaction


def celery_config(config: dict) -> dict:
    if config["REDIS_URL"]:
        broker = {
            "broker_url": config["REDIS_URL"],
            "broker_transport_options": {
                # Retry delays live in the database (e.g. the outbox), so the visibility
                # timeout only matters for a worker that died holding a message.
                "visibility_timeout": 3600,
                # Seconds, so a Redis that stopped answering costs a request
                # at most that long before its task is left to the sweeper.
                "socket_connect_timeout": 2,
                "socket_timeout": 3,
                # Publishing opens its connection through kombu's retry loop,
                # which would otherwise keep retrying a refused connection for
                # broker_connection_timeout; task_publish_retry does not reach
                # it. Workers reconnect with their own retry settings.
                "max_retries": 0,
            },
        }
    else:
        folder = config["BROKER_FOLDER"]
        broker = {
            "broker_url": "filesystem://",
            "broker_transport_options": {
                "data_folder_in": folder,
                "data_folder_out": folder,
                "control_folder": folder + "-control",
                "store_processed": False,
            },
        }
    return {
        **broker,
        "task_serializer": "json",
        "accept_content": ["json"],
        "task_ignore_result": True,
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "task_default_queue": DEFAULT_QUEUE,
        "task_routes": {},
        # A dead broker must not stall a web request: publish fails fast and each
        # domain's sweeper re-publishes whatever did not get through.
        "task_publish_retry": False,
        "broker_connection_timeout": 2,
        "broker_connection_retry_on_startup": True,
        "worker_hijack_root_logger": False,
        "beat_schedule": {},
        "include": [],
    }


def celery_init_app(app: Flask) -> Celery:
    class FlaskTask(Task):
        def __call__(self, *args, **kwargs):
            # Called directly (a shell, a test) inside this app's context: run there,
            # in its session. In a worker there is no context yet: make one per task.
            context = nullcontext() if has_app_context() and current_app._get_current_object() is app else app.app_context()
            with context:
                try:
                    return self.run(*args, **kwargs)
                finally:
                    publish_committed_tasks()

    if not app.config["REDIS_URL"]:
        for folder in (app.config["BROKER_FOLDER"], app.config["BROKER_FOLDER"] + "-control"):
            os.makedirs(folder, exist_ok=True)
    celery = Celery(app.name, task_cls=FlaskTask)
    celery.config_from_object(celery_config(app.config))
    celery.set_default()
    app.extensions["celery"] = celery

    if not getattr(Session, "_after_commit_tasks", False):
        event.listen(Session, "after_commit", _after_commit)
        event.listen(Session, "after_rollback", _after_rollback)
        Session._after_commit_tasks = True

    @app.after_request
    def _publish_after_request(response):
        publish_committed_tasks()
        return response

    return celery


def register_tasks(app: Flask, module: str, routes: dict | None = None, beat: dict | None = None) -> None:
    """Called by a domain's init_app: its tasks module, queue routes and beat entries."""
    conf = app.extensions["celery"].conf
    conf.include = [*conf.include, module]
    conf.task_routes = {**conf.task_routes, **(routes or {})}
    conf.beat_schedule = {**conf.beat_schedule, **(beat or {})}


# ---------------------------------------------------------------- after commit


def enqueue_after_commit(task, *args, **kwargs) -> None:
    """Publish `task(*args, **kwargs)` once the current transaction commits.

    Kept in the session until then and forgotten on rollback. Publishing
    happens after the request (after_request) or the task (FlaskTask), never
    inside an SQLAlchemy event: a broker error there could not be handled.
    Arguments must be JSON: ids, not ORM objects.

    A broker that is down is logged and otherwise ignored: the change is
    committed, and the owning domain's sweeper finds its work from the
    database. What recovers each kind of task:
    - mail delivery (portal.mail.tasks, either lane): the outbox sweeper,
      which re-publishes every queued row that is due.
    """
    db.session.info.setdefault(_PENDING, []).append((task, args, kwargs))


def enqueue_item_after_commit(task, item) -> None:
    """Like enqueue_after_commit, but every item of one transaction goes to one `task(items)` call.

    For work that is cheaper in batches (e.g. one SMTP session for many emails).
    """
    batches = db.session.info.setdefault(_BATCHES, {})
    items = batches.get(task.name)
    if items is None:
        items = batches[task.name] = []
        # The list is filled until commit; it is serialized only when published.
        enqueue_after_commit(task, items)
    items.append(item)


def _after_commit(session) -> None:
    session.info.pop(_BATCHES, None)
    pending = session.info.pop(_PENDING, None)
    if pending:
        session.info.setdefault(_COMMITTED, []).extend(pending)


def _after_rollback(session) -> None:
    session.info.pop(_BATCHES, None)
    session.info.pop(_PENDING, None)


def publish_committed_tasks() -> None:
    """Hand every committed task of this session to the broker."""
    committed = db.session.info.pop(_COMMITTED, None)
    for task, args, kwargs in committed or ():
        publish(task, *args, **kwargs)


def publish(task, *args, countdown: float | None = None, **kwargs) -> bool:
    """Publish now (to run no sooner than `countdown` seconds); False (and a log line) when the broker cannot take it."""
    try:
        task.apply_async(args=args, kwargs=kwargs, retry=False, countdown=countdown)
    except Exception as exc:  # the broker is down: the domain's sweeper recovers from the database
        log.warning("could not publish %s, its sweeper will recover the work: %s", task.name, exc)
        return False
    return True
