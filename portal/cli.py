"""`flask --app portal <command>`: seed-demo and the development launcher."""
import click
from flask import Flask

from portal.extensions import db


@click.command("seed-demo")
def seed_demo_command() -> None:
    """Load the demo content (idempotent) and create the demo admin on first run."""
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


def init_app(app: Flask) -> None:
    from portal.devserver import dev_command

    app.cli.add_command(seed_demo_command)
    app.cli.add_command(dev_command)
