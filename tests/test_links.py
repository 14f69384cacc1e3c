"""Absolute links and client addresses: PORTAL_BASE_URL first, the request next, proxies only when trusted."""
import pytest

from tests.support.deferred import decide_requests
from tests.support.mail import outbox
from tests.support.registration import VALID_FORM, new_event, register
from tests.support.web import csrf_token_from

FORGED = {"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https", "X-Forwarded-Host": "evil.example"}


def _manage_link_host(app) -> str:
    decide_requests(app)  # the task renders the confirmation, with the links of the request's host
    [confirmation] = outbox(app, "registration_confirmed")
    start = confirmation.text.index("/manage/")
    return confirmation.text[confirmation.text.rindex("http", 0, start):start]


def test_without_portal_base_url_email_links_follow_the_served_host_and_port(make_app, portal_env):
    portal_env["PORTAL_BASE_URL"] = ""
    app = make_app(RATELIMIT_ENABLED=False)
    slug = new_event(app)
    client = app.test_client()
    served_at = "http://127.0.0.1:8123"
    page = client.get(f"/events/{slug}/register", base_url=served_at)
    data = {**VALID_FORM, "csrf_token": csrf_token_from(page.get_data(as_text=True))}
    assert client.post(f"/events/{slug}/register", data=data, base_url=served_at).status_code == 303
    assert _manage_link_host(app) == served_at


def test_forwarded_headers_are_ignored_without_a_trusted_proxy(make_app, portal_env):
    portal_env["PORTAL_BASE_URL"] = ""
    app = make_app(RATELIMIT_ENABLED=False)
    slug = new_event(app)
    client = app.test_client()
    client.environ_base.update({"HTTP_" + k.upper().replace("-", "_"): v for k, v in FORGED.items()})
    register(client, slug)
    assert _manage_link_host(app) == "http://localhost"


def test_forwarded_scheme_and_host_are_used_behind_one_trusted_proxy(make_app, portal_env):
    portal_env["PORTAL_BASE_URL"] = ""
    portal_env["TRUSTED_PROXIES"] = "1"
    app = make_app(RATELIMIT_ENABLED=False)
    slug = new_event(app)
    client = app.test_client()
    client.environ_base.update({
        "HTTP_X_FORWARDED_PROTO": "https", "HTTP_X_FORWARDED_HOST": "summit.example.org",
        # Over HTTPS, Flask-WTF also checks that the form came from this site.
        "HTTP_REFERER": "https://summit.example.org/",
    })
    register(client, slug)
    assert _manage_link_host(app) == "https://summit.example.org"


def test_portal_base_url_wins_over_a_trusted_proxy(make_app, portal_env):
    portal_env["PORTAL_BASE_URL"] = "https://register.example.org"
    portal_env["TRUSTED_PROXIES"] = "1"
    app = make_app(RATELIMIT_ENABLED=False)
    slug = new_event(app)
    client = app.test_client()
    client.environ_base.update({"HTTP_X_FORWARDED_PROTO": "http", "HTTP_X_FORWARDED_HOST": "register.example.org"})
    register(client, slug)
    assert _manage_link_host(app) == "https://register.example.org"


def _lost_link_posts(client, count: int, forwarded_for=None) -> list[int]:
    token = csrf_token_from(client.get("/manage/lost-link").get_data(as_text=True))
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    return [
        client.post("/manage/lost-link", data={"csrf_token": token, "email": "x@example.org"}, headers=headers).status_code
        for _ in range(count)
    ]


@pytest.fixture
def limited_env(portal_env):
    portal_env["REGISTRATION_LOST_LINK_RATE_LIMIT"] = "2 per minute"
    return portal_env


def test_a_forged_forwarded_for_does_not_dodge_the_rate_limit(limited_env, make_app):
    client = make_app().test_client()
    statuses = [_lost_link_posts(client, 1, forwarded_for=f"198.51.100.{n}")[0] for n in range(3)]
    assert statuses == [303, 303, 429]


def test_behind_one_trusted_proxy_two_clients_are_limited_separately(limited_env, make_app):
    limited_env["TRUSTED_PROXIES"] = "1"
    client = make_app().test_client()
    assert _lost_link_posts(client, 3, forwarded_for="198.51.100.1") == [303, 303, 429]
    assert _lost_link_posts(client, 2, forwarded_for="198.51.100.2") == [303, 303]


def test_rate_limits_are_read_from_the_environment(limited_env, make_app):
    assert make_app().config["REGISTRATION_LOST_LINK_RATE_LIMIT"] == "2 per minute"


def test_a_malformed_rate_limit_stops_the_portal_with_one_line(limited_env, make_app):
    from portal.config import ConfigError

    limited_env["REGISTRATION_RATE_LIMIT"] = "lots"
    with pytest.raises(ConfigError, match="REGISTRATION_RATE_LIMIT='lots' is not a rate limit"):
        make_app()


def test_a_429_says_when_to_try_again(limited_env, make_app):
    client = make_app().test_client()
    token = csrf_token_from(client.get("/manage/lost-link").get_data(as_text=True))
    for _ in range(2):
        client.post("/manage/lost-link", data={"csrf_token": token, "email": "x@example.org"})
    response = client.post("/manage/lost-link", data={"csrf_token": token, "email": "x@example.org"})
    assert response.status_code == 429
    assert 0 < int(response.headers["Retry-After"]) <= 60


def test_an_unknown_host_gets_400_instead_of_a_redirect_to_it(make_app):
    client = make_app().test_client()
    response = client.get("/static//css/site.css", headers={"Host": "evil.example"})
    assert response.status_code == 400
    assert "evil.example" not in response.headers.get("Location", "")


def test_the_portal_answers_to_its_own_host_and_to_trusted_extra_names(make_app, portal_env):
    portal_env["PORTAL_BASE_URL"] = "https://summit.example.org"
    portal_env["TRUSTED_HOSTS"] = "www.summit.example.org"
    client = make_app().test_client()
    assert client.get("/", headers={"Host": "summit.example.org"}).status_code == 200
    assert client.get("/", headers={"Host": "www.summit.example.org"}).status_code == 200
    assert client.get("/", headers={"Host": "127.0.0.1"}).status_code == 400
    # A health check by address still gets its answer.
    assert client.get("/healthz", headers={"Host": "10.0.0.7:8000"}).status_code == 200


@pytest.mark.parametrize(("target", "followed"), [
    ("/resources?topic=journals#list", "/resources?topic=journals#list"),
    ("/\t/evil.example/x", None),  # a browser drops the tab: //evil.example/x
    ("/\\evil.example", None),  # a backslash is a slash: //evil.example
    ("\\\\evil.example", None),
    (" \x00//evil.example", None),  # controls and spaces at the ends are trimmed first
    ("/re\nsources", "/resources"),
    ("https://evil.example/", None),
    ("javascript:alert(1)", None),
    ("evil.example", None),
    ("/a\x00b", None),
    ("", None),
    (None, None),
])
def test_a_way_back_is_followed_only_as_a_path_on_this_site_read_as_a_browser_reads_it(target, followed):
    from portal.links import safe_redirect_path

    assert safe_redirect_path(target) == followed


@pytest.mark.parametrize(("target", "followed"), [
    ("/admin", "/admin"), ("/admin/audit?page=2", "/admin/audit?page=2"), ("/administrator", None),
    ("/admin/../newsletter/", None), ("/admin/%2E%2E/newsletter/", None), ("/newsletter/", None),
])
def test_a_way_back_can_be_kept_within_one_part_of_the_site(target, followed):
    from portal.links import safe_redirect_path

    assert safe_redirect_path(target, within="/admin") == followed
