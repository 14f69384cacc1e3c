"""`flask --app portal send-digests --frequency weekly [--dry-run]`."""
import click
from flask.cli import with_appcontext

from portal.extensions import db


@click.command("send-digests")
@click.option("--frequency", type=click.Choice(["weekly", "monthly"]), required=True)
@click.option("--dry-run", is_flag=True, help="Only count who would get mail and how many highlights each "
              "(with the links as last checked, by the rule the real run uses).")
@click.option("--each", is_flag=True, help="With --dry-run: one line per subscriber (id, highlights).")
@with_appcontext
def send_digests_command(frequency: str, dry_run: bool, each: bool) -> None:
    """Start this period's edition now, as beat would; the worker sends it.

    Running it again in the same week (or month) finds the same edition and
    sends nothing twice.
    """
    from portal.digests import service
    from portal.digests.tasks import start_edition

    if dry_run:
        report = service.dry_run(frequency)
        click.echo(f"{frequency.capitalize()} edition for the period from {report.period_start:%Y-%m-%d}: "
                   f"{report.would_send} would get a digest, {report.would_skip} skipped (nothing new).")
        for count, digests in sorted(report.highlights.items(), reverse=True):
            click.echo(f"  {digests} digest(s) with {count} highlight(s)")
        if report.checks_links_first:
            click.echo("Links as last checked. The real run checks them first, which leaves out only a link that "
                       "answers with an HTTP error or is in doubt and gets no answer again while other sites answer; "
                       "a check that cannot reach the network changes nothing.")
        else:
            click.echo("Links as last checked, as the real run uses them (it does not check them first).")
        if report.links_in_doubt:
            click.echo(f"  In doubt (no answer on their latest check): {', '.join(report.links_in_doubt)}")
        if report.last_check_offline_at:
            click.echo(f"The last link check could not reach the network at {report.last_check_offline_at:%Y-%m-%d %H:%M}"
                       " UTC; links keep their previous state.")
        if each:
            for subscriber_id, count in report.each:
                click.echo(f"subscriber {subscriber_id}: {count} highlight(s)")
        return
    edition_id = start_edition(frequency)
    edition = service.get_edition(edition_id)
    db.session.commit()
    click.echo(f"Edition {edition.id} ({edition.title}) is {edition.status}: the worker composes and sends it; "
               f"{edition.planned} queued and {edition.skipped} skipped so far.")
