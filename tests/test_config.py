"""Configuration comes from the environment, and unsafe production settings stop the app."""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from portal.config import DEV_SECRET_KEY, ConfigError, load_config

ROOT = Path(__file__).resolve().parents[1]


def test_unset_environment_means_embedded_default(tmp_path):
    config = load_config(str(tmp_path), environ={})
    assert config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'portal.sqlite'}"
    assert config["REDIS_URL"] == ""
    assert config["MAIL_SERVER"] == ""


def test_postgres_urls_use_the_psycopg_driver(tmp_path):
    for url in ("postgres://u@h/db", "postgresql://u@h/db"):
        config = load_config(str(tmp_path), environ={"DATABASE_URL": url})
        assert config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u@h/db"


def test_every_variable_in_env_example_is_read_by_the_app():
    documented = set(re.findall(r"^([A-Z_]+)=", (ROOT / ".env.example").read_text(), re.M))
    read = set(re.findall(r'env\.get\("([A-Z_]+)"\)', (ROOT / "portal" / "config.py").read_text()))
    read |= {"PORTAL_INSTANCE_PATH", "PORTAL_CATALOG_FILE"}
    assert documented == read


def test_app_refuses_postgres_with_development_secret_key(make_app, portal_env):
    portal_env["DATABASE_URL"] = "postgresql://nobody@127.0.0.1:1/none"
    portal_env["SECRET_KEY"] = ""
    with pytest.raises(ConfigError) as excinfo:
        make_app()
    assert "SECRET_KEY" in str(excinfo.value)


def test_refusal_is_one_line_on_the_command_line(tmp_path):
    env = {**os.environ, "DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none", "SECRET_KEY": DEV_SECRET_KEY,
           "PORTAL_INSTANCE_PATH": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "portal", "routes"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "SECRET_KEY" in lines[0], result.stderr
