import pytest


@pytest.mark.browser
def test_chromium_loads_health_check_without_leaving_loopback(live_server, page):
    page.goto(live_server.url + "/healthz")
    assert '"ok"' in page.content()
    assert page.watch.console_errors == []
    assert page.watch.external_requests == []
