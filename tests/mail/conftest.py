"""Fixtures for the mail tests: workers started on demand, and SMTP servers with quirks."""
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from portal.extensions import db
from tests.support.smtp import RecordingHandler, SMTPServer, free_port
from tests.support.worker import start_beat, start_worker


class CeleryStarter:
    """Start the real worker or beat in the middle of a test; all are stopped afterwards."""

    def __init__(self, env: dict, log_dir: Path):
        self.env = env
        self.log_dir = log_dir
        self.started = []

    def worker(self, concurrency: int = 2):
        process = start_worker(self.env, self.log_dir, concurrency=concurrency)
        self.started.append(process)
        return process

    def beat(self):
        process = start_beat(self.env, self.log_dir)
        self.started.append(process)
        return process

    def stop_all(self) -> None:
        for process in reversed(self.started):
            process.stop()


@pytest.fixture
def start_celery(portal_env, tmp_path):
    starter = CeleryStarter(portal_env, tmp_path)
    yield starter
    starter.stop_all()


@pytest.fixture
def four_process_worker(portal_env, tmp_path):
    """A worker whose pool can run four deliveries at the same moment."""
    worker = start_worker(portal_env, tmp_path, concurrency=4)
    yield worker
    worker.stop()


class SMTPServerWithoutUTF8(SMTPServer):
    """The recording aiosmtpd server, but one that does not offer the SMTPUTF8 extension."""

    def __init__(self):
        # Not super().__init__(): that would build a second controller whose
        # event loop is never closed.
        self.handler = RecordingHandler()
        self.port = free_port()
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port, enable_SMTPUTF8=False)


@pytest.fixture
def ascii_only_smtp_env(portal_env):
    server = SMTPServerWithoutUTF8().start()
    portal_env["MAIL_SERVER"] = "127.0.0.1"
    portal_env["MAIL_PORT"] = str(server.port)
    yield server
    server.stop()


@pytest.fixture
def embedded_env(portal_env, tmp_path):
    """The server-less default in both passes: SQLite, filesystem broker, development mailbox."""
    portal_env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'embedded.sqlite'}"
    portal_env["REDIS_URL"] = ""
    portal_env["MAIL_SERVER"] = ""
    portal_env["PORTAL_DEVELOPMENT"] = "1"  # the mailbox page is for development only
    return portal_env


@pytest.fixture
def embedded_app(embedded_env, make_app):
    app = make_app()
    assert app.config["EMBEDDED_SERVICES"]
    with app.app_context():
        db.create_all()
    return app
