"""The curated resource catalog that pages list and digests highlight."""
from datetime import timedelta

from flask import Flask

LINK_CHECK_EVERY = timedelta(days=1)


def init_app(app: Flask) -> None:
    from portal.celery_app import register_tasks
    from portal.resources.cli import check_links_command, import_resources_command
    from portal.resources.linkcheck import FAILURES_TO_BREAK, last_check_runs

    app.cli.add_command(import_resources_command)
    app.cli.add_command(check_links_command)
    # For the admin resources page, which says when the checker last ran and whether it was cut off.
    app.add_template_global(last_check_runs, "last_link_check_runs")
    app.add_template_global(FAILURES_TO_BREAK, "link_failures_to_break")
    register_tasks(
        app,
        "portal.resources.tasks",
        beat={"check-resource-links": {"task": "portal.resources.check_catalog_links", "schedule": LINK_CHECK_EVERY}},
    )
