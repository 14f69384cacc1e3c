"""`flask --app portal <command>`: seed-demo and the development launcher."""
import click
from flask import Flask

from portal.extensions import db


@click.command("seed-demo")
def seed_demo_command() -> None:
    """Load the demo content (idempotent) and create the demo admin on first run."""
    from portal.admin.service import ensure_demo_admin
    from portal.resources.service import seed_resources

    resources = seed_resources()
    admin, password = ensure_demo_admin()
    db.session.commit()
    click.echo(f"Resources: {resources['created']} added, {resources['updated']} updated.")
    if password:
        click.echo("")
        click.echo("Demo admin created (shown only this once):")
        click.echo(f"  email:    {admin.email}")
        click.echo(f"  password: {password}")
        click.echo("")


def init_app(app: Flask) -> None:
    app.cli.add_command(seed_demo_command)
