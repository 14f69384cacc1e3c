"""Celery bound to the Flask app, the way Flask's own Celery example does it."""
import os
from datetime import timedelta

from celery import Celery, Task
from flask import Flask

MAIL_QUEUE = "mail"
DEFAULT_QUEUE = "portal"


def celery_config(config: dict) -> dict:
    if config["REDIS_URL"]:
        broker = {
            "broker_url": config["REDIS_URL"],
            "broker_transport_options": {
                # Retry delays live in the outbox table, so the visibility timeout
                # only matters for a worker that died holding a message.
                "visibility_timeout": 3600,
                "socket_connect_timeout": 2,
                "socket_timeout": 5,
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
        "task_routes": {"portal.deliver_emails": {"queue": MAIL_QUEUE}},
        # A dead broker must not stall a web request: publish fails fast and the
        # outbox sweeper re-dispatches whatever did not get through.
        "task_publish_retry": False,
        "broker_connection_timeout": 2,
        "broker_connection_retry_on_startup": True,
        "worker_hijack_root_logger": False,
        "beat_schedule": {
            "sweep-outbox": {
                "task": "portal.sweep_outbox",
                "schedule": timedelta(seconds=config["OUTBOX_SWEEP_SECONDS"]),
            }
        },
        "include": ["worker.tasks"],
    }


def celery_init_app(app: Flask) -> Celery:
    class FlaskTask(Task):
        def __call__(self, *args, **kwargs):
            from portal.mail.outbox import dispatch_committed_emails

            with app.app_context():
                try:
                    return self.run(*args, **kwargs)
                finally:
                    dispatch_committed_emails()

    if not app.config["REDIS_URL"]:
        for folder in (app.config["BROKER_FOLDER"], app.config["BROKER_FOLDER"] + "-control"):
            os.makedirs(folder, exist_ok=True)
    celery = Celery(app.name, task_cls=FlaskTask)
    celery.config_from_object(celery_config(app.config))
    celery.set_default()
    app.extensions["celery"] = celery
    return celery
