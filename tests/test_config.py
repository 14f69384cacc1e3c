"""Configuration comes from the environment, and unsafe production settings stop the app."""
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from portal.config import DEV_SECRET_KEY, KNOWN_EXAMPLE_SECRET_KEYS, ConfigError, load_config
from tests.support.web import csrf_token_from

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


def test_without_a_secret_key_the_portal_refuses_to_start_outside_development(make_app, portal_env):
    portal_env["SECRET_KEY"] = ""
    with pytest.raises(ConfigError) as excinfo:
        make_app()
    assert "SECRET_KEY is not set" in str(excinfo.value)
    portal_env["PORTAL_DEVELOPMENT"] = "1"
    assert make_app().config["SECRET_KEY"] == DEV_SECRET_KEY


def test_gunicorn_without_a_secret_key_exits_with_the_reason(tmp_path):
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PORTAL_", "SECRET_KEY"))}
    env.update({"PORTAL_INSTANCE_PATH": str(tmp_path), "DATABASE_URL": f"sqlite:///{tmp_path / 'p.sqlite'}",
                "REDIS_URL": ""})
    result = subprocess.run(
        [sys.executable, "-m", "gunicorn", "--bind", "127.0.0.1:0", "--workers", "1", "portal:create_app()"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode != 0
    assert "Refusing to start: SECRET_KEY is not set" in result.stderr


def test_the_development_server_refuses_a_public_address(make_app, portal_env):
    portal_env["SECRET_KEY"] = ""
    portal_env["PORTAL_DEVELOPMENT"] = "1"
    app = make_app()
    result = app.test_cli_runner().invoke(args=["dev", "--host", "0.0.0.0", "--port", "1"])
    assert result.exit_code != 0 and "Refusing to serve the development portal on 0.0.0.0" in result.output


def test_over_https_the_session_cookie_is_secure_and_host_prefixed(make_app, portal_env):
    portal_env["PORTAL_BASE_URL"] = "https://summit.example.org"
    app = make_app()
    client = app.test_client()
    token = csrf_token_from(client.get("/newsletter/", base_url="https://summit.example.org").get_data(as_text=True))
    assert token
    cookie = client.get_cookie("__Host-session", domain="summit.example.org")
    assert cookie is not None and cookie.secure and cookie.path == "/" and cookie.http_only


def test_over_plain_http_the_session_cookie_keeps_its_plain_name(client):
    client.get("/newsletter/")
    assert client.get_cookie("session") is not None


@pytest.mark.parametrize("key", ["x", "a-31-byte-key-that-is-too-short"])
def test_a_secret_key_shorter_than_32_bytes_is_refused(make_app, portal_env, key):
    portal_env["SECRET_KEY"] = key
    with pytest.raises(ConfigError) as excinfo:
        make_app()
    assert f"SECRET_KEY is {len(key)} bytes long" in str(excinfo.value)


@pytest.mark.parametrize("key", sorted(KNOWN_EXAMPLE_SECRET_KEYS - {DEV_SECRET_KEY}))
def test_a_published_example_secret_key_is_refused(make_app, portal_env, key):
    portal_env["SECRET_KEY"] = key
    with pytest.raises(ConfigError):
        make_app()


def test_a_long_random_secret_key_starts_the_portal(make_app, portal_env):
    portal_env["SECRET_KEY"] = secrets.token_urlsafe(32)  # 43 characters from 32 random bytes
    assert make_app().config["SECRET_KEY"] == portal_env["SECRET_KEY"]


def test_a_weak_key_is_refused_in_one_line_that_says_how_to_make_one(tmp_path):
    env = {**os.environ, "SECRET_KEY": "x", "PORTAL_INSTANCE_PATH": str(tmp_path),
           "DATABASE_URL": f"sqlite:///{tmp_path / 'p.sqlite'}", "REDIS_URL": ""}
    env.pop("PORTAL_DEVELOPMENT", None)
    result = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "portal", "routes"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode != 0
    assert len(lines) == 1 and 'python -c "import secrets; print(secrets.token_urlsafe(48))"' in lines[0], lines
