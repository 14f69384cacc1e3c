"""`flask --app portal purge [--dry-run]`: apply the retention periods now (beat does it daily)."""
import click
from flask import current_app
from flask.cli import with_appcontext

from portal.database import utcnow
from portal.retention import registry, service


@click.command("purge")
@click.option("--dry-run", is_flag=True, help="Only count, per kind, what a purge would change now.")
@with_appcontext
def purge_command(dry_run: bool) -> None:
    """Anonymise or delete personal data whose retention period is over, and say how much per kind."""
    if dry_run:
        counts = service.due_counts(utcnow())
    else:
        from portal.retention.tasks import purge

        counts = purge()
    for kind in registry.KINDS:
        if kind.key in counts:
            verb = service.rule(kind.key).verb
            change = f"would be {verb}" if dry_run else verb
            click.echo(f"{kind.key}: {counts[kind.key]} {change} "
                       f"(kept {registry.period_text(kind, current_app.config)})")
        else:
            click.echo(f"{kind.key}: nothing to remove ({kind.afterwards})")
    if not dry_run:
        click.echo("Recorded in the audit log.")
