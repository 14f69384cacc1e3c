"""`flask --app portal dev`: the portal, a Celery worker and beat, stopped together by Ctrl-C.

Used by `make run` on the embedded default. Production runs the three as
separate services (see docker-compose.yml).
"""
import os
import signal
import subprocess
import sys
import time

import click
from flask import current_app
from flask.cli import with_appcontext
from werkzeug.serving import run_simple

from portal.config import DEV_SECRET_KEY, LOOPBACK_HOSTS


def _celery(*args: str, env: dict) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "worker.app:celery_app", *args],
        env=env,
        start_new_session=True,  # Ctrl-C reaches us; we stop the children in order
    )


def _stop(processes: list[subprocess.Popen]) -> None:
    for proc in processes:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + 15
    for proc in processes:
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


@click.command("dev")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True)
@with_appcontext
def dev_command(host: str, port: int) -> None:
    """Run the web server with a Celery worker and beat until Ctrl-C."""
    app = current_app._get_current_object()
    if host not in LOOPBACK_HOSTS and (app.config["SECRET_KEY"] == DEV_SECRET_KEY or app.config["DEV_MAILBOX_VISIBLE"]):
        # The development key and the mailbox of manage links are for this machine only.
        raise click.ClickException(
            f"Refusing to serve the development portal on {host}: use 127.0.0.1, or run production "
            "(gunicorn, docker compose) with a real SECRET_KEY."
        )
    schedule = os.path.join(app.instance_path, "celerybeat-schedule")
    # Pages follow the address they are served on; a task that builds a link gets the same one.
    env = {**os.environ, "PORTAL_BASE_URL": app.config["PORTAL_BASE_URL"] or f"http://{host}:{port}"}
    children = [
        # One worker for both mail lanes: a bulk task gives its process back within seconds.
        _celery("worker", "--loglevel=INFO", "-Q", "mail,portal,bulk", "--concurrency=2", "--without-gossip",
                "--without-mingle", "--without-heartbeat", env=env),
        _celery("beat", "--loglevel=INFO", "-s", schedule, env=env),
    ]
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    click.echo(f"\n  Summit Portal: http://{host}:{port}/")
    if app.config["DEV_MAILBOX_VISIBLE"]:
        click.echo(f"  Development mailbox: http://{host}:{port}/dev/mail\n")
    try:
        # app.run() refuses to run under the `flask` command; serve with Werkzeug directly.
        run_simple(host, port, app, threaded=True, use_reloader=False)
    except KeyboardInterrupt:
        pass
    finally:
        click.echo("Stopping worker and beat...")
        _stop(children)
