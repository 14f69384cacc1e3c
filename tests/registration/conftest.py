"""The registration tests' live-server fixture; their helpers live in tests/support/registration.py."""
import pytest

from tests.support.smtp import free_port
from tests.support.worker import LiveServer, start_live_server


@pytest.fixture
def registration_server(portal_env, tmp_path):
    """Start gunicorn for this test: `registration_server(workers=4, threads=4, REGISTRATION_CAPACITY_LOCK=False)`.

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
