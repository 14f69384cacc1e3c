"""`flask --app portal <command>`: seeding, events from files, accounts, and the development launcher.

Production runs `db upgrade` and `seed-catalog` on every deploy (both are
idempotent), then an organiser runs `create-event FILE` and `create-admin
EMAIL` once. `seed-demo` and `dev` belong to the embedded default (`make run`).
Each command owns its transaction: the services it calls only flush.
"""
import sys

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from portal.extensions import db


@click.command("seed-catalog")
@with_appcontext
def seed_catalog_command() -> None:
    """Load or update the shipped resource catalog (idempotent)."""
    from portal.resources.service import seed_resources

    counts = seed_resources()
    db.session.commit()
    click.echo(f"Resources: {counts['created']} added, {counts['updated']} updated.")


@click.command("seed-demo")
@with_appcontext
def seed_demo_command() -> None:
    """The embedded demo: the catalog, the next Policy Summit and a demo admin (idempotent)."""
    if not current_app.config["DEVELOPMENT"]:
        raise click.ClickException(
            "seed-demo is for local development (make run sets PORTAL_DEVELOPMENT=1); in production "
            "use seed-catalog, create-event and create-admin."
        )
    from portal.admin.service import ensure_demo_admin
    from portal.registration.demo import seed_demo_event
    from portal.resources.service import seed_resources

    resources = seed_resources()
    summit, summit_created = seed_demo_event()
    admin, password = ensure_demo_admin()
    db.session.commit()
    click.echo(f"Resources: {resources['created']} added, {resources['updated']} updated.")
    click.echo(f"{summit.title}: {'created' if summit_created else 'already there'}, registration at /events/{summit.slug}")
    if password:
        click.echo("")
        click.echo("Demo admin created (shown only this once):")
        click.echo(f"  email:    {admin.email}")
        click.echo(f"  password: {password}")
        click.echo("")


def _read_event_file(path: str):
    from portal.registration.event_file import EventFileError, read_event_file

    try:
        return read_event_file(path)
    except EventFileError as exc:
        for problem in exc.problems:
            click.echo(f"  {problem}", err=True)
        raise click.ClickException(f"{path} has {len(exc.problems)} problem(s); nothing was written.") from None


@click.command("create-event")
@click.argument("path", type=click.Path(dir_okay=False))
@with_appcontext
def create_event_command(path: str) -> None:
    """Create an event from a TOML or JSON file (see deploy/summit.example.toml)."""
    from portal.registration import event_setup
    from portal.registration.errors import EventExists

    spec = _read_event_file(path)
    try:
        event = event_setup.create_event(spec)
    except EventExists:
        db.session.rollback()
        raise click.ClickException(f"an event with slug {spec.slug!r} exists already; use update-event") from None
    db.session.commit()
    click.echo(f"Created {spec.title}: registration at /events/{event.slug}")


@click.command("update-event")
@click.argument("path", type=click.Path(dir_okay=False))
@with_appcontext
def update_event_command(path: str) -> None:
    """Update the event the file's slug names; raised capacities promote waiting registrants."""
    from portal.registration import event_setup
    from portal.registration.errors import EventChangeRefused, EventNotFound, RegistrationBusy

    spec = _read_event_file(path)
    try:
        promoted = event_setup.update_event(spec)
    except EventNotFound:
        db.session.rollback()
        raise click.ClickException(f"no event with slug {spec.slug!r}; use create-event") from None
    except EventChangeRefused as exc:
        db.session.rollback()
        raise click.ClickException(f"{exc}; nothing was changed") from None
    except RegistrationBusy:
        db.session.rollback()
        raise click.ClickException("the event is busy with registrations; nothing was changed, try again") from None
    db.session.commit()
    click.echo(f"Updated {spec.title}; {len(promoted)} waiting registrant(s) promoted.")


@click.command("create-admin")
@click.argument("email")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input instead of a prompt.")
@click.option("--role", type=click.Choice(["admin", "staff"]), default="admin", show_default=True,
              help="admin: everything; staff: attendee lists and check-in only.")
@with_appcontext
def create_admin_command(email: str, password_stdin: bool, role: str) -> None:
    """Create an admin or staff account; the password is prompted for (or read from stdin)."""
    from portal.admin.service import AdminAccountError, create_admin

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        admin = create_admin(email, password, role=role)
    except AdminAccountError as exc:
        db.session.rollback()
        raise click.ClickException(str(exc)) from None
    db.session.commit()
    click.echo(f"{admin.role.capitalize()} account created for {admin.email}.")


def init_app(app: Flask) -> None:
    from portal.devserver import dev_command

    for command in (
        seed_catalog_command, seed_demo_command, create_event_command, update_event_command,
        create_admin_command, dev_command,
    ):
        app.cli.add_command(command)
