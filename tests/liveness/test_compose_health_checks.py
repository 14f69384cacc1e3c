"""docker-compose.yml's health checks of the workers and beat, run as written against the services' own commands."""
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.support.wait import wait_until
from tests.support.worker import ROOT, CeleryProcess

COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def service(name: str) -> dict:
    return COMPOSE["services"][name]


def health_check(name: str, env: dict) -> subprocess.CompletedProcess:
    """The service's healthcheck test, run as Docker runs it (CMD-SHELL through sh), `flask` from this venv."""
    kind, *command = service(name)["healthcheck"]["test"]
    if kind == "CMD-SHELL":
        # Compose turns $$ into $ before the shell sees it.
        command = ["sh", "-c", command[0].replace("$$", "$")]
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    return subprocess.run(command, cwd=ROOT, env={**os.environ, **env, "PATH": path}, capture_output=True,
                          text=True, timeout=60)


def start_service(name: str, env: dict, log_dir: Path) -> CeleryProcess:
    """The service's own command (`celery -A APP ...`), with beat's schedule file in the test's folder."""
    command = service(name)["command"]
    assert command[:3] == ["celery", "-A", "worker.app:celery_app"], command
    args = [str(log_dir / "beat-schedule") if arg.startswith("/app/") else arg for arg in command[3:]]
    process = CeleryProcess(env, log_dir / f"{name}.log", *args)
    try:
        process.wait_for_output("ready." if args[0] == "worker" else "beat: Starting")
    except BaseException:
        process.stop()
        raise
    return process


@pytest.mark.parametrize("name", ["worker", "worker-bulk", "beat"])
def test_the_health_check_passes_while_the_service_runs_and_fails_once_it_stopped(name, liveness_env, tmp_path):
    before = health_check(name, liveness_env)
    assert before.returncode == 1
    assert "missing" in before.stdout
    process = start_service(name, liveness_env, tmp_path)
    try:
        passed = wait_until(lambda: (lambda r: r if r.returncode == 0 else None)(health_check(name, liveness_env)),
                            timeout=60, interval=0.5, message=f"{name}'s health check passing")
        assert ": ok" in passed.stdout
    finally:
        process.stop()
    failed = wait_until(lambda: (lambda r: r if r.returncode == 1 else None)(health_check(name, liveness_env)),
                        timeout=60, interval=0.5, message=f"{name}'s health check failing")
    assert "late" in failed.stdout or "missing" in failed.stdout

