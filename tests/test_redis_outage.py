"""Redis stopped answering, or gone: requests still finish, registrations are kept, the log says so once."""
import logging
import urllib.error
import urllib.parse
import urllib.request

from tests.support.registration import VALID_FORM, new_event, register, registrations
from tests.support.web import csrf_token_from


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # the 303 itself is the answer under test


def _register_over_http(server_url: str, slug: str, email: str) -> int:
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(), _NoRedirect())
    with opener.open(f"{server_url}/events/{slug}/register", timeout=120) as page:
        csrf = csrf_token_from(page.read().decode())
    body = urllib.parse.urlencode({**VALID_FORM, "email": email, "csrf_token": csrf}).encode()
    try:
        with opener.open(f"{server_url}/events/{slug}/register", data=body, timeout=120) as response:
            return response.status
    except urllib.error.HTTPError as answer:
        return answer.code


def test_a_frozen_redis_does_not_hang_a_registration(portal_env, make_app, portal_server, redis_server):
    """SIGSTOP: Redis accepts connections and never answers. Without timeouts gunicorn kills the worker."""
    portal_env["REDIS_URL"] = redis_server.url
    app = make_app()
    slug = new_event(app)
    server = portal_server(workers=1)
    redis_server.freeze()
    try:
        assert _register_over_http(server.url, slug, "ada@example.org") == 303
    finally:
        redis_server.thaw()
    assert [r.email for r in registrations(app, slug)] == ["ada@example.org"]


def test_with_redis_gone_registration_works_and_the_log_says_so_once(portal_env, make_app, redis_server, caplog):
    portal_env["REDIS_URL"] = redis_server.url
    app = make_app()
    slug = new_event(app)
    redis_server.stop()
    client = app.test_client()
    with caplog.at_level(logging.INFO, logger="flask-limiter"):
        statuses = [register(client, slug, email=f"user{n}@example.org").status_code for n in range(3)]
    assert statuses == [303, 303, 303]
    assert len(registrations(app, slug)) == 3
    outage_lines = [r for r in caplog.records if r.name == "flask-limiter" and "unreachable" in r.getMessage()]
    assert len(outage_lines) == 1
