"""`flask --app portal import-resources FILE` and `check-links`."""
from pathlib import Path

import click
from flask.cli import with_appcontext

from portal.extensions import db


@click.command("import-resources")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@with_appcontext
def import_resources_command(path: str) -> None:
    """Add or update catalog entries from a JSON or CSV file (the fields of the shipped catalog).

    One bad row refuses the whole file; every problem is listed with its line.
    """
    from portal.resources.curation import CatalogChangeRefused, import_resources

    file = Path(path)
    try:
        counts = import_resources(file.name, file.read_bytes())
    except CatalogChangeRefused as exc:
        db.session.rollback()
        for problem in exc.problems:
            click.echo(problem, err=True)
        raise click.ClickException(f"nothing imported: {len(exc.problems)} problem(s) in {file.name}") from None
    db.session.commit()
    click.echo(f"Resources: {counts['created']} added, {counts['updated']} updated.")


@click.command("check-links")
@with_appcontext
def check_links_command() -> None:
    """Check every catalog address now (beat does it daily) and list the broken ones."""
    from sqlalchemy import select

    from portal.resources.linkcheck import check_catalog_links
    from portal.resources.models import Resource

    counts = check_catalog_links()
    db.session.commit()
    if counts["offline"]:
        click.echo(f"The check could not reach the network ({counts['unreachable']} of {counts['checked']} addresses "
                   "got no answer): every link keeps its previous state.", err=True)
    for resource in db.session.scalars(select(Resource).where(Resource.retired_at.is_(None)).order_by(Resource.slug)):
        if resource.link_broken:
            click.echo(f"broken: {resource.slug} {resource.url} ({resource.link_error or resource.link_status})")
    click.echo(f"{counts['checked']} address(es) checked, {counts['broken']} broken.")
