"""Fixtures shared by every test package.

The suite runs twice (see the Makefile): PORTAL_TEST_BACKEND=embedded uses
SQLite and the filesystem broker; PORTAL_TEST_BACKEND=services uses
PostgreSQL and Redis. Each test gets its own app and a fresh database cloned
from a template built once per run.
"""
import shutil
from pathlib import Path

import pytest
import redis as redis_lib

from tests.support.database import BACKEND, RUN_ID, TEST_REDIS_URL, next_database_number, pg_admin_execute, pg_url
from tests.support.smtp import SMTPServer, free_port
from tests.support.web import csrf_token_from
from tests.support.worker import LiveServer, start_beat, start_live_server, start_worker

def pytest_collection_modifyitems(config, items):
    """Tests marked `services` need PostgreSQL and Redis: only the services pass runs them."""
    if BACKEND == "services":
        return
    kept = [item for item in items if "services" not in item.keywords]
    deselected = [item for item in items if "services" in item.keywords]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = kept


def base_env(instance: Path, database_url: str) -> dict:
    env = {
        "PORTAL_INSTANCE_PATH": str(instance),
        "DATABASE_URL": database_url,
        "SECRET_KEY": "test-secret-key-of-at-least-32-bytes-" + RUN_ID,
        "REDIS_URL": TEST_REDIS_URL if BACKEND == "services" else "",
        "MAIL_SERVER": "",
        "PORTAL_BASE_URL": "http://127.0.0.1:5000",
        "OUTBOX_SWEEP_SECONDS": "1",
        "OUTBOX_RETRY_BASE_SECONDS": "0.2",
        "OUTBOX_RETRY_CAP_SECONDS": "1",
        # The shipped catalog's addresses are on the internet, which tests never reach;
        # the tests of the pre-edition check point the catalog at a local server first.
        "DIGEST_CHECK_LINKS_FIRST": "0",
        "DIGEST_ADVANCE_SECONDS": "1",
    }
    return env


@pytest.fixture(scope="session")
def template_database(tmp_path_factory):
    """Build the schema once (from the models), then clone it per test."""
    from portal import create_app
    from portal.extensions import db

    instance = tmp_path_factory.mktemp("template-instance")
    if BACKEND == "services":
        name = f"portal_tpl_{RUN_ID}"
        pg_admin_execute(f'DROP DATABASE IF EXISTS "{name}"')
        pg_admin_execute(f'CREATE DATABASE "{name}"')
        url = pg_url(name)
    else:
        url = f"sqlite:///{instance / 'template.sqlite'}"
    mp = pytest.MonkeyPatch()
    for key, value in base_env(instance, url).items():
        mp.setenv(key, value)
    app = create_app()
    with app.app_context():
        db.create_all()
        db.session.remove()
        db.engine.dispose()
    mp.undo()
    yield {"url": url, "name": name if BACKEND == "services" else None, "path": instance / "template.sqlite"}
    if BACKEND == "services":
        pg_admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def database_url(template_database, tmp_path):
    if BACKEND == "services":
        name = f"portal_t_{RUN_ID}_{next_database_number()}"
        pg_admin_execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_database["name"]}"')
        yield pg_url(name)
        pg_admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    else:
        path = tmp_path / "portal.sqlite"
        shutil.copyfile(template_database["path"], path)
        yield f"sqlite:///{path}"


@pytest.fixture
def portal_env(tmp_path, database_url):
    """Environment variables describing this test's portal; a worker subprocess gets the same."""
    instance = tmp_path / "instance"
    instance.mkdir()
    if BACKEND == "services":
        client = redis_lib.Redis.from_url(TEST_REDIS_URL)
        client.flushdb()
        client.close()
    return base_env(instance, database_url)


@pytest.fixture
def make_app(portal_env, monkeypatch):
    """Build an app from `portal_env` (after a test adjusted it) plus config overrides."""
    from portal import create_app
    from portal.extensions import db, limiter

    apps = []

    def factory(**overrides):
        for key, value in portal_env.items():
            monkeypatch.setenv(key, value)
        # Flask-Limiter's instance is process-wide and init_app keeps its "storage is
        # down" flag: an outage seen by an earlier test's app would silence this one's.
        limiter._storage_dead = False
        app = create_app({"TESTING": True, **overrides})
        apps.append(app)
        return app

    yield factory
    for app in apps:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def make_event(app):
    """`make_event(day_capacity=2)`: a committed, open two-day event in `app`; returns its slug."""
    from tests.support.registration import new_event

    return lambda **kwargs: new_event(app, **kwargs)


@pytest.fixture
def make_registration(app):
    """`make_registration(slug, email="x@example.org", days="1")`: registered through the service."""
    from tests.support.registration import add_registration

    return lambda slug, **fields: add_registration(app, slug, **fields)


@pytest.fixture
def seeded(app):
    """The app with the resource catalog from resources.json loaded."""
    from portal.extensions import db
    from portal.resources.service import seed_resources

    with app.app_context():
        seed_resources()
        db.session.commit()
    return app


@pytest.fixture
def redis_server(tmp_path):
    """A redis-server of this test's own, which it may stop or freeze."""
    from tests.support.redis import RedisServer

    server = RedisServer(tmp_path / "redis-server.log").start()
    yield server
    server.stop()


@pytest.fixture
def smtp_server():
    server = SMTPServer().start()
    yield server
    server.stop()


@pytest.fixture
def smtp_env(portal_env, smtp_server):
    """Point the portal (and any worker started afterwards) at the loopback SMTP server."""
    portal_env["MAIL_SERVER"] = "127.0.0.1"
    portal_env["MAIL_PORT"] = str(smtp_server.port)
    return portal_env


@pytest.fixture
def celery_worker(portal_env, tmp_path):
    """A real Celery worker process; request it after the fixtures that shape `portal_env`."""
    worker = start_worker(portal_env, tmp_path)
    yield worker
    worker.stop()


@pytest.fixture
def celery_beat(portal_env, tmp_path):
    beat = start_beat(portal_env, tmp_path)
    yield beat
    beat.stop()


@pytest.fixture
def csrf_token(client):
    """Fetch `url` and return the CSRF token of its form."""

    def fetch(url: str) -> str:
        response = client.get(url)
        assert response.status_code == 200, response.status_code
        return csrf_token_from(response.get_data(as_text=True))

    return fetch


@pytest.fixture
def live_server(portal_env, tmp_path):
    """gunicorn serving this test's portal; request it after fixtures that shape `portal_env`."""
    from tests.support.worker import start_live_server

    server = start_live_server(portal_env, tmp_path)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def playwright_driver():
    """One Playwright for the run: its sync API allows only one at a time in a process."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="session")
def chromium(playwright_driver):
    from tests.support.browser import CHROMIUM, CHROMIUM_ARGS

    browser = playwright_driver.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
    yield browser
    browser.close()


@pytest.fixture
def page(chromium):
    """A fresh browser context and page; `page.watch` records console errors and outside requests."""
    from tests.support.browser import watched_page

    yield from watched_page(chromium)


@pytest.fixture(scope="session")
def tls_certificate(tmp_path_factory):
    from tests.support.tls import make_certificate

    return make_certificate(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="session")
def https_chromium(playwright_driver, tls_certificate):
    """Chromium that trusts the suite's certificate by its public key, as it would trust a real one."""
    from tests.support.browser import CHROMIUM, CHROMIUM_ARGS

    trust = f"--ignore-certificate-errors-spki-list={tls_certificate.spki_sha256}"
    browser = playwright_driver.chromium.launch(executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, trust], headless=True)
    yield browser
    browser.close()


@pytest.fixture
def https_page(https_chromium):
    from tests.support.browser import watched_page

    yield from watched_page(https_chromium)


@pytest.fixture
def https_portal(portal_env, tmp_path, tls_certificate):
    """Start the portal over HTTPS as production serves it: `https_portal("direct")` is gunicorn
    with the certificate; `https_portal("proxy")` is nginx with deploy/'s configuration in front of
    gunicorn on plain HTTP, with TRUSTED_PROXIES=1. Request celery_worker after calling it.
    """
    from tests.support.tls import Proxy

    started = []

    def start(mode: str, **overrides):
        assert mode in {"direct", "proxy"}, mode
        port = free_port()
        if mode == "direct":
            portal_env["PORTAL_BASE_URL"] = f"https://127.0.0.1:{port}"
            server = start_live_server(portal_env, tmp_path, port=port, overrides=overrides,
                                       certificate=tls_certificate)
            started.append(server)
            return server
        proxy = Proxy(tmp_path / "nginx", f"127.0.0.1:{port}", tls_certificate)
        started.append(proxy)
        portal_env["PORTAL_BASE_URL"] = proxy.url
        portal_env["TRUSTED_PROXIES"] = "1"
        started.append(start_live_server(portal_env, tmp_path, port=port, overrides=overrides))
        return proxy.wait_until_up()

    yield start
    for server in reversed(started):
        server.stop()


@pytest.fixture
def portal_server(portal_env, tmp_path):
    """Start gunicorn for this test: `portal_server(workers=4, threads=4, REGISTRATION_CAPACITY_LOCK=False)`.

    PORTAL_BASE_URL is set to the server's own address first, so the links in
    emails open on it; request celery_worker after calling this to share that.
    """
    servers = []

    def start(workers: int = 2, threads: int = 1, **overrides) -> LiveServer:
        port = free_port()
        portal_env["PORTAL_BASE_URL"] = f"http://127.0.0.1:{port}"
        server = start_live_server(portal_env, tmp_path, workers, threads, port=port, overrides=overrides)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()
