"""Digests: weekly and monthly emails of new catalog highlights, and their public archive."""
from datetime import timedelta

from celery.schedules import crontab
from flask import Flask


def schedule(expression: str) -> crontab:
    """A five-field cron expression ("minute hour day-of-month month day-of-week"), in UTC."""
    minute, hour, day_of_month, month, day_of_week = expression.split()
    return crontab(minute=minute, hour=hour, day_of_month=day_of_month, month_of_year=month, day_of_week=day_of_week)


def init_app(app: Flask) -> None:
    from portal.celery_app import register_tasks
    from portal.digests.cli import send_digests_command
    from portal.mail import BULK_QUEUE
    from portal.digests.views import bp

    app.register_blueprint(bp)
    app.cli.add_command(send_digests_command)
    config = app.config
    register_tasks(
        app,
        "portal.digests.tasks",
        routes={name: {"queue": BULK_QUEUE} for name in (
            "portal.digests.start_edition", "portal.digests.compose_batch", "portal.digests.advance_editions")},
        beat={
            "weekly-digest": {"task": "portal.digests.start_edition", "args": ["weekly"],
                              "schedule": schedule(config["DIGEST_WEEKLY_CRON"])},
            "monthly-digest": {"task": "portal.digests.start_edition", "args": ["monthly"],
                               "schedule": schedule(config["DIGEST_MONTHLY_CRON"])},
            "advance-digest-editions": {"task": "portal.digests.advance_editions",
                                        "schedule": timedelta(seconds=config["DIGEST_ADVANCE_SECONDS"])},
        },
    )
