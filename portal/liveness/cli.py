"""`flask --app portal liveness check NAME`: the container health check of a worker or of beat."""
import sys

import click
from flask.cli import with_appcontext

from portal.extensions import db
from portal.liveness.service import OK, HeartbeatStoreError, heartbeats, liveness_of_process


@click.group("liveness")
def liveness_cli() -> None:
    """Heartbeats of the Celery workers and beat."""


@liveness_cli.command("check")
@click.argument("name")
@with_appcontext
def check_command(name: str) -> None:
    """Exit 0 when NAME (a worker's node name, e.g. transactional@HOST, or "beat") has a heartbeat that is not late."""
    try:
        signs = heartbeats()
    except HeartbeatStoreError:
        signs = []
    db.session.rollback()  # only read; on SQLite the read held the write lock
    liveness = liveness_of_process(signs, name)
    age = "" if liveness.age_seconds is None else f" (last heartbeat {liveness.age_seconds} s ago)"
    click.echo(f"{name}: {liveness.state}{age}")
    if liveness.state != OK:
        sys.exit(1)
