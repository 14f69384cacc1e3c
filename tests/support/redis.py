"""A redis-server of a test's own, which the test may stop, freeze (SIGSTOP) and start again."""
import os
import shutil
import signal
import subprocess
from pathlib import Path

import redis as redis_lib

from tests.support.smtp import free_port
from tests.support.wait import wait_until

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
            os.kill(self.proc.pid, signal.SIGCONT)  # a frozen server would not hear SIGTERM
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def freeze(self) -> None:
        """SIGSTOP: the port still accepts connections, but nothing is ever answered."""
        os.kill(self.proc.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        os.kill(self.proc.pid, signal.SIGCONT)
