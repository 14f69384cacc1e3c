"""The banner in Chromium: nothing optional before a yes, equal choices, keyboard, no-JS, GPC and axe-core."""
import json
from pathlib import Path

import pytest
from playwright.sync_api import expect
from sqlalchemy import func, select

from portal.consent.models import ConsentEvent, PageView
from portal.consent.registry import CONSENT_COOKIE, VISIT_COOKIE
from portal.extensions import db
from tests.support.browser import PageWatch
from tests.support.wait import wait_until

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
pytestmark = pytest.mark.browser


@pytest.fixture
def site(make_app, live_server):
    return make_app(), live_server.url


@pytest.fixture
def open_page(chromium):
    contexts = []

    def opener(**context_options):
        context = chromium.new_context(viewport={"width": 1280, "height": 900}, **context_options)
        contexts.append(context)
        page = context.new_page()
        page.watch = PageWatch(page)
        page.analytics_requests = []
        page.on("request", lambda r: "/consent/page-view" in r.url and page.analytics_requests.append(r.url))
        return page

    yield opener
    for context in contexts:
        context.close()


def cookie_names(page) -> set[str]:
    return {c["name"] for c in page.context.cookies()}


def count(app, model) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


def test_first_visit_sets_nothing_optional_and_reject_all_keeps_it_so(site, open_page):
    app, url = site
    page = open_page()
    page.goto(url + "/")
    expect(page.get_by_role("region", name="Cookies on Summit Portal")).to_be_visible()
    assert cookie_names(page) <= {"session"}
    page.get_by_role("button", name="Reject all").click()
    expect(page.locator("#consent-banner")).to_be_hidden()
    page.goto(url + "/resources")
    assert cookie_names(page) <= {"session", CONSENT_COOKIE}
    assert page.analytics_requests == [] and count(app, PageView) == 0
    assert page.watch.console_errors == [] and page.watch.external_requests == []


def test_accept_all_counts_the_next_page_view(site, open_page):
    app, url = site
    page = open_page()
    page.goto(url + "/")
    page.get_by_role("button", name="Accept all").click()
    expect(page.locator("#consent-banner")).to_be_hidden()
    assert page.url == url + "/"  # no reload, no navigation
    assert count(app, PageView) == 0  # the page already shown is not counted
    # Wait for the counter's own request rather than polling the database: on SQLite a
    # tight polling loop would keep the write lock from the server that wants to insert.
    with page.expect_response("**/consent/page-view") as counted:
        page.goto(url + "/priorities")
    assert counted.value.status == 204
    assert count(app, PageView) == 1
    assert VISIT_COOKIE in cookie_names(page)


def test_choose_analytics_only_then_withdraw_from_the_footer(site, open_page):
    app, url = site
    page = open_page()
    page.goto(url + "/")
    page.get_by_text("Choose", exact=True).click()
    page.get_by_role("switch", name="Analytics").check()
    page.get_by_role("button", name="Save my choices").click()
    expect(page.locator("#consent-banner")).to_be_hidden()
    page.goto(url + "/resources")
    assert wait_until(lambda: VISIT_COOKIE in cookie_names(page))
    counted = count(app, PageView)

    page.get_by_role("link", name="Cookie settings").click()
    expect(page.locator("#consent-banner")).to_be_visible()
    page.get_by_role("switch", name="Analytics").uncheck()
    page.get_by_role("button", name="Save my choices").click()
    expect(page.locator("#consent-banner")).to_be_hidden()
    assert wait_until(lambda: VISIT_COOKIE not in cookie_names(page))
    page.goto(url + "/priorities")
    page.goto(url + "/")
    assert count(app, PageView) == counted
    with app.app_context():
        actions = db.session.scalars(select(ConsentEvent.action).order_by(ConsentEvent.id)).all()
    assert actions == ["custom", "withdraw"]


def test_a_gpc_browser_is_told_the_signal_was_honoured_and_nothing_optional_runs(site, open_page):
    app, url = site
    page = open_page(extra_http_headers={"Sec-GPC": "1"})
    page.goto(url + "/")
    expect(page.get_by_text("Global Privacy Control signal, and we honour it")).to_be_visible()
    page.get_by_role("button", name="Reject all").click()
    expect(page.locator("#consent-banner")).to_be_hidden()
    page.goto(url + "/resources")
    assert page.analytics_requests == []
    with app.app_context():
        assert db.session.scalars(select(ConsentEvent.gpc)).all() == [True]


def test_without_javascript_the_banner_forms_post_and_come_back(site, open_page):
    app, url = site
    page = open_page(java_script_enabled=False)
    page.goto(url + "/resources")
    page.get_by_role("button", name="Accept all").click()
    page.wait_for_url(url + "/resources")
    expect(page.locator("#consent-banner")).to_be_hidden()
    assert CONSENT_COOKIE in cookie_names(page)
    assert count(app, ConsentEvent) == 1


def test_keyboard_only_reaches_the_banner_chooses_and_gets_focus_back(site, open_page):
    app, url = site
    page = open_page()
    page.goto(url + "/")
    for _ in range(12):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.textContent.trim()") == "Reject all":
            break
    assert page.evaluate("document.activeElement.textContent.trim()") == "Reject all"
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline == "solid"
    page.keyboard.press("Enter")
    expect(page.locator("#consent-banner")).to_be_hidden()
    assert page.evaluate("document.activeElement.id") == "main"
    assert count(app, ConsentEvent) == 1


def axe_violations(page) -> list[dict]:
    page.add_script_tag(content=AXE.read_text())
    result = page.evaluate("async () => (await axe.run(document, {resultTypes: ['violations']})).violations")
    return [{"id": v["id"], "nodes": [n["target"] for n in v["nodes"]]} for v in result]


def test_axe_finds_no_violations_with_the_banner_and_with_the_choices_open(site, open_page):
    app, url = site
    page = open_page(bypass_csp=True)  # to inject axe-core itself; the page's own scripts are unchanged
    page.goto(url + "/")
    assert axe_violations(page) == []
    page.get_by_text("Choose", exact=True).click()
    expect(page.get_by_role("switch", name="Analytics")).to_be_visible()
    violations = axe_violations(page)
    assert violations == [], json.dumps(violations, indent=1)
