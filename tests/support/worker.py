"""Run the real Celery worker (and beat) as subprocesses against a test's configuration."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


PORTAL_CELERY_APP = "worker.app:celery_app"


class CeleryProcess:
    def __init__(self, env: dict, log_path: Path, *args: str, app: str = PORTAL_CELERY_APP):
        self.log_path = log_path
        self.log = open(log_path, "wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", app, *args],
            cwd=ROOT,
            env={**os.environ, **env},
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for_output(self, needle: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if needle in self.output():
                return
            if self.proc.poll() is not None:
                raise AssertionError(f"celery exited early:\n{self.output()}")
            time.sleep(0.1)
        raise AssertionError(f"celery did not print {needle!r} within {timeout}s:\n{self.output()}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            # The main process shuts its own children down; signalling the whole
            # group at once makes Celery's pool children linger until the timeout.
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)  # anything left of the group
        except ProcessLookupError:
            pass
        self.proc.wait()
        self.log.close()


def start_worker(env: dict, log_dir: Path, concurrency: int = 2, app: str = PORTAL_CELERY_APP,
                 queues: str = "mail,portal,bulk", name: str | None = None) -> CeleryProcess:
    """`queues` as compose gives each lane's worker with -Q; `name` its node name (-n, %h is the host)."""
    name = name or f"test-{os.getpid()}-{time.monotonic_ns()}@%h"
    log_name = "worker.log" if queues == "mail,portal,bulk" else f"worker-{queues.replace(',', '-')}.log"
    worker = CeleryProcess(
        env, log_dir / log_name, "worker", "--loglevel=INFO", "-Q", queues,
        f"--concurrency={concurrency}", "--without-gossip", "--without-mingle", "--without-heartbeat",
        "-n", name, app=app,
    )
    _wait_or_stop(worker, "ready.")
    return worker


def start_beat(env: dict, log_dir: Path) -> CeleryProcess:
    beat = CeleryProcess(
        env, log_dir / "beat.log", "beat", "--loglevel=INFO", "-s", str(log_dir / "beat-schedule"),
    )
    _wait_or_stop(beat, "beat: Starting")
    return beat


def _wait_or_stop(process: CeleryProcess, needle: str) -> None:
    try:
        process.wait_for_output(needle)
    except BaseException:
        process.stop()
        raise


class LiveServer(CeleryProcess):
    """The portal under gunicorn, as production runs it, on a free loopback port.

    `overrides` reach create_app through gunicorn's factory-call syntax
    (`portal:create_app({...})`), so test-only switches never have to be
    readable from the environment.
    """

    def __init__(self, env: dict, log_dir: Path, port: int, workers: int = 2, threads: int = 1,
                 overrides: dict | None = None, certificate=None):
        """With a `tests.support.tls.Certificate`, gunicorn itself serves HTTPS."""
        self.certificate = certificate
        self.url = f"{'https' if certificate else 'http'}://127.0.0.1:{port}"
        self.log_path = log_dir / f"gunicorn-{port}.log"
        self.log = open(self.log_path, "wb")
        app_spec = f"portal:create_app({overrides!r})" if overrides else "portal:create_app()"
        tls = ["--certfile", str(certificate.cert), "--keyfile", str(certificate.key)] if certificate else []
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", str(workers),
             "--threads", str(threads), "--access-logfile", "-", *tls, app_spec],
            cwd=ROOT, env={**os.environ, **env}, stdout=self.log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_until_up(self, timeout: float = 60) -> "LiveServer":
        import urllib.request

        deadline = time.monotonic() + timeout
        while True:
            try:
                context = self.certificate.client_context() if self.certificate else None
                with urllib.request.urlopen(self.url + "/healthz", timeout=2, context=context) as response:
                    if response.status == 200:
                        return self
            except OSError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                output = self.output()
                self.stop()
                raise AssertionError(f"gunicorn did not come up:\n{output}")
            time.sleep(0.1)


def start_live_server(env: dict, log_dir: Path, workers: int = 2, threads: int = 1, port: int | None = None,
                      overrides: dict | None = None, certificate=None) -> LiveServer:
    from tests.support.smtp import free_port

    server = LiveServer(env, log_dir, port or free_port(), workers=workers, threads=threads, overrides=overrides,
                        certificate=certificate)
    return server.wait_until_up()
