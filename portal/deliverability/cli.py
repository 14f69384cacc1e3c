"""`flask --app portal bounces poll`: read the bounce mailbox once, now (beat does it every BOUNCE_POLL_SECONDS)."""
import click
from flask.cli import AppGroup

from portal.deliverability.intake import OUTCOMES, poll_bounce_mailbox

bounces_cli = AppGroup("bounces", help="The bounce mailbox (BOUNCE_MAILDIR or BOUNCE_IMAP_URL).")

LABELS = {
    "hard_bounce": "hard bounce(s)",
    "soft_bounce": "soft bounce(s)",
    "complaint": "complaint(s)",
    "unmatched": "unmatched (filed in 'unmatched')",
    "failed": "unreadable (filed in 'unmatched')",
    "ignored": "not a report (deleted)",
}


@bounces_cli.command("poll")
def poll_command() -> None:
    """Process every message in the bounce mailbox and print what was found."""
    result = poll_bounce_mailbox()
    if result.busy:
        raise click.ClickException("another poll of the bounce mailbox is running; nothing was read")
    counts = result.counts
    click.echo(f"Bounce mailbox: {sum(counts.values())} message(s): "
               + ", ".join(f"{counts[name]} {LABELS[name]}" for name in OUTCOMES) + ".")
    if result.error:
        raise click.ClickException(f"stopped early: {result.error}")
