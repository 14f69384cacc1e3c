"""App-wide behaviour: security headers, error pages, CSRF."""


def test_every_response_carries_strict_security_headers(client):
    response = client.get("/healthz")
    csp = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "same-origin"


def test_unknown_page_gets_friendly_404(client):
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert "Page not found" in response.get_data(as_text=True)


def test_wrong_method_gets_405_page_not_500(client):
    response = client.delete("/")
    assert response.status_code == 405


def test_dev_mailbox_exists_only_for_development_on_the_embedded_default(make_app, portal_env):
    from tests.support.database import BACKEND

    assert make_app().test_client().get("/dev/mail/").status_code == 404
    portal_env["PORTAL_DEVELOPMENT"] = "1"
    response = make_app().test_client().get("/dev/mail/")
    assert response.status_code == (200 if BACKEND == "embedded" else 404)
