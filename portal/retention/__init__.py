"""Retention: every kind of personal data declared once (registry), shown in the notices, purged daily."""
from flask import Flask


def init_app(app: Flask) -> None:
    from portal.celery_app import register_tasks
    from portal.digests import schedule
    from portal.retention.cli import purge_command
    from portal.retention.notices import controller, retention_entries

    app.cli.add_command(purge_command)
    app.add_template_global(retention_entries)
    app.add_template_global(controller, "data_controller")
    beat = {"retention-purge": {"task": "portal.retention.purge", "schedule": schedule(app.config["RETENTION_PURGE_CRON"])}}
    register_tasks(app, "portal.retention.tasks", beat=beat)
