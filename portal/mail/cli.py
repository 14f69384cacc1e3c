"""`flask --app portal outbox ...`: look after mail that could not be delivered."""
import click
from flask.cli import with_appcontext

from portal.celery_app import publish_committed_tasks
from portal.extensions import db
from portal.mail.outbox import queue_failed_again


@click.group("outbox")
def outbox_cli() -> None:
    """The outgoing mail queue."""


@outbox_cli.command("retry")
@click.option("--failed-since", type=click.DateTime(formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"]),
              help="Only mail that failed at or after this moment (UTC), e.g. 2026-11-24T18:00.")
@click.option("--id", "ids", type=int, multiple=True, help="Only this outbox row; repeat for several.")
@with_appcontext
def retry_command(failed_since, ids) -> None:
    """Queue failed mail again (all of it, unless narrowed), with its attempts reset."""
    requeued = queue_failed_again(list(ids) or None, failed_since)
    db.session.commit()
    publish_committed_tasks()
    click.echo(f"{len(requeued)} failed email(s) queued again.")
