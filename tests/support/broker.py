"""The task messages an app published, read from its real broker (Redis, or the filesystem folder)."""
from flask import Flask

from portal.celery_app import DEFAULT_QUEUE


def take_published(app: Flask) -> list[tuple[str, tuple]]:
    """Remove every message waiting in the app's queues; return (task name, args) of each, queue by queue."""
    celery = app.extensions["celery"]
    queues = {DEFAULT_QUEUE, *(route["queue"] for route in celery.conf.task_routes.values())}
    taken = []
    with celery.connection_for_read() as connection:
        for name in sorted(queues):
            with connection.SimpleQueue(name, no_ack=True) as queue:
                taken.extend(_drain(queue))
    return taken


def _drain(queue):
    while True:
        try:
            message = queue.get_nowait()
        except queue.Empty:
            return
        yield message.headers["task"], tuple(message.payload[0])
