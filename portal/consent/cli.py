"""`flask --app portal consent export|purge`: prove choices, and keep the log no longer than needed."""
import csv
import sys
from datetime import timedelta

import click
from flask.cli import AppGroup

from portal.consent import service
from portal.database import utcnow
from portal.extensions import db

consent_cli = AppGroup("consent", help="The cookie consent log.")
COLUMNS = ("consent_id", "created_at", "policy_version", "action", "granted", "denied", "gpc", "language")


@consent_cli.command("export")
@click.option("--output", type=click.File("w", encoding="utf-8"), default="-", help="CSV file (default: stdout).")
def export_command(output) -> None:
    """Write the whole consent log as CSV, oldest first."""
    writer = csv.writer(output)
    writer.writerow(COLUMNS)
    for event in service.consent_log_rows():
        writer.writerow([
            event.consent_id, event.created_at.isoformat(timespec="seconds") + "Z", event.policy_version,
            event.action, " ".join(event.granted), " ".join(event.denied), "yes" if event.gpc else "no",
            event.language,
        ])
    if output is not sys.stdout:
        click.echo(f"Wrote the consent log to {output.name}.", err=True)


@consent_cli.command("purge")
@click.option("--older-than-days", type=click.IntRange(min=30), required=True,
              help="Delete events older than this many days (at least 30).")
def purge_command(older_than_days: int) -> None:
    """The retention purge: the only way consent events are ever deleted."""
    removed = service.purge_consent_log(utcnow() - timedelta(days=older_than_days))
    db.session.commit()
    click.echo(f"Deleted {removed} consent event(s) older than {older_than_days} days.")
