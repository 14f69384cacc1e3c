"""The public pages in headless Chromium, served by gunicorn as in production.

The home page test also refreshes docs/screenshot-home.png, which the README shows.
"""
from pathlib import Path

import pytest
from playwright.sync_api import expect

from portal.extensions import db
from portal.resources.service import seed_resources

SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "screenshot-home.png"

pytestmark = pytest.mark.browser


@pytest.fixture
def seeded_portal(make_app):
    """Load the catalog into the database the live server is about to use."""
    app = make_app()
    with app.app_context():
        seed_resources()
        db.session.commit()


def assert_stayed_clean(page):
    assert page.watch.console_errors == []
    assert page.watch.external_requests == []


def test_home_page_loads_without_errors_or_outside_requests(seeded_portal, live_server, page):
    page.goto(live_server.url + "/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Universal access to cell and gene therapies")
    expect(page.locator(".hero").get_by_role("link", name="Register for the Policy Summit")).to_be_visible()
    expect(page.locator(".section-counts li")).to_have_count(6)
    assert_stayed_clean(page)
    SCREENSHOT.parent.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOT), full_page=True)


def test_first_tab_reveals_the_skip_link_which_jumps_to_main(seeded_portal, live_server, page):
    page.goto(live_server.url + "/")
    skip_link = page.get_by_role("link", name="Skip to main content")
    assert skip_link.bounding_box()["y"] < 0, "the skip link should be off screen until focused"
    page.keyboard.press("Tab")
    expect(skip_link).to_be_focused()
    assert skip_link.bounding_box()["y"] >= 0
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()
    assert_stayed_clean(page)


def test_keyboard_focus_is_visibly_outlined(seeded_portal, live_server, page):
    page.goto(live_server.url + "/")
    page.get_by_role("button", name="Reject all").click()  # the cookie banner comes first otherwise
    expect(page.locator("#consent-banner")).to_be_hidden()
    page.goto(live_server.url + "/")
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    outline = page.evaluate(
        "() => { const s = getComputedStyle(document.activeElement);"
        " return [document.activeElement.textContent.trim(), s.outlineStyle, parseFloat(s.outlineWidth)]; }"
    )
    assert outline == ["Register for the Policy Summit", "solid", 3.0]


def test_resources_filter_works_without_scripts(seeded_portal, live_server, page):
    page.goto(live_server.url + "/resources")
    page.get_by_label("Topic", exact=True).select_option("clinical-trials")
    page.get_by_role("button", name="Apply filters").click()
    page.wait_for_url("**/resources?q=&topic=clinical-trials&kind=")
    expect(page.locator("#filter-summary")).to_contain_text("Topic: Clinical trials")
    expect(page.get_by_label("Topic", exact=True)).to_have_value("clinical-trials")
    expect(page.locator("#clinicaltrials-gov")).to_be_visible()
    expect(page.locator("#journal-gene-therapy")).to_have_count(0)
    assert_stayed_clean(page)


def test_pages_fit_a_phone_screen_without_sideways_scrolling(seeded_portal, live_server, page):
    page.set_viewport_size({"width": 360, "height": 740})
    for path in ("/", "/priorities", "/resources", "/privacy"):
        page.goto(live_server.url + path)
        overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{path} is {overflow}px too wide"
        expect(page.locator(".summit-strip").get_by_role("link", name="Register for the Policy Summit")).to_be_visible()
    assert_stayed_clean(page)
