"""Fixtures for the mail tests: a Redis server a test may stop, and workers started on demand."""
import shutil
import subprocess
from pathlib import Path

import pytest
import redis as redis_lib

from aiosmtpd.controller import Controller

from portal.extensions import db
from tests.support.smtp import RecordingHandler, SMTPServer, free_port
from tests.support.wait import wait_until
from tests.support.worker import start_beat, start_worker

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


class RedisServer:
    """A throwaway redis-server on a fixed free port, so it can be stopped and started again."""

    def __init__(self, log_path: Path):
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.log_path = log_path
        self.proc: subprocess.Popen | None = None

    def start(self) -> "RedisServer":
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1",
                 "--save", "", "--appendonly", "no"],
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )
        wait_until(self._answers, timeout=60, message=f"redis-server on port {self.port}")
        return self

    def _answers(self) -> bool:
        if self.proc.poll() is not None:
            raise AssertionError(f"redis-server exited:\n{self.log_path.read_text(errors='replace')}")
        try:
            with redis_lib.Redis(host="127.0.0.1", port=self.port, socket_connect_timeout=1) as client:
                return client.ping()
        except redis_lib.ConnectionError:
            return False

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


@pytest.fixture
def redis_server(tmp_path):
    server = RedisServer(tmp_path / "redis-server.log").start()
    yield server
    server.stop()


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
    return portal_env


@pytest.fixture
def embedded_app(embedded_env, make_app):
    app = make_app()
    assert app.config["EMBEDDED_SERVICES"]
    with app.app_context():
        db.create_all()
    return app
