"""The curated resource catalog that pages list and digests highlight."""
from datetime import timedelta

from flask import Flask

LINK_CHECK_EVERY = timedelta(days=1)


def init_app(app: Flask) -> None:
    from portal.celery_app import register_tasks
    from portal.resources.cli import check_links_command, import_resources_command

    app.cli.add_command(import_resources_command)
    app.cli.add_command(check_links_command)
    register_tasks(
        app,
        "portal.resources.tasks",
        beat={"check-resource-links": {"task": "portal.resources.check_catalog_links", "schedule": LINK_CHECK_EVERY}},
    )
