"""Visitor requests decided after the response, so that no answer, nor its timing, says who is known.

A form like "email me my link" must answer the same for an address the
portal knows and one it does not. Deciding in the request cannot be made to
cost the same in both cases, so the request only writes a DeferredRequest
row (the same work for everyone) and a task decides and mails once the
transaction has committed. Domains register a handler per kind of request.
"""
from datetime import timedelta

from flask import Flask

SWEEP_SECONDS = 30


def init_app(app: Flask) -> None:
    from portal.celery_app import register_tasks

    register_tasks(
        app,
        "portal.deferred.tasks",
        beat={
            "sweep-deferred-requests": {
                "task": "portal.deferred.sweep_requests",
                "schedule": timedelta(seconds=SWEEP_SECONDS),
            }
        },
    )
