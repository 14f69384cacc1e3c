"""A Celery app for tests: the portal's own worker app plus tasks that report what they saw.

`celery -A tests.support.probe_worker:celery_app worker` runs everything the
portal's worker runs, and the probe tasks of tests/support/probe_tasks.py.
"""
from portal.celery_app import register_tasks
from worker.app import celery_app, flask_app

register_tasks(flask_app, "tests.support.probe_tasks")

__all__ = ["celery_app"]
