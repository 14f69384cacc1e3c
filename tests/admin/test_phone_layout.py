"""The admin on a door volunteer's phone (390 px) and an organiser's laptop (1280 px)."""
import re

import pytest
from playwright.sync_api import expect

from tests.support.admin import ADMIN_EMAIL, PASSWORD, STAFF_EMAIL, add_account
from tests.support.registration import add_registration, new_event

ADMIN_PAGES = ["/admin/", "/admin/attendees", "/admin/check-in", "/admin/event", "/admin/exports", "/admin/outbox",
               "/admin/deliverability/", "/admin/deliverability/suppressions", "/admin/resources", "/admin/digests",
               "/admin/accounts", "/admin/erase", "/admin/audit", "/admin/two-factor"]


def _log_in(page, url: str, email: str) -> None:
    page.goto(f"{url}/admin/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/admin/")


def _on_a_phone(page, url: str, email: str, path: str) -> None:
    """Log in as `email` in a 390 px wide window and open `path`."""
    page.set_viewport_size({"width": 390, "height": 844})
    _log_in(page, url, email)
    page.goto(url + path)


@pytest.fixture
def admin_site(make_app, portal_server):
    app = make_app()
    add_account(app)
    add_account(app, STAFF_EMAIL, role="staff")
    slug = new_event(app)
    registration = add_registration(app, slug, email="a.rather.long.address.for.a.phone@example.org",
                                    organization="Helix Policy Institute for Long Organization Names")
    return portal_server(), registration


def _overflow(page) -> int:
    return page.evaluate("document.documentElement.scrollWidth - window.innerWidth")


@pytest.mark.browser
def test_no_admin_page_scrolls_sideways_on_a_phone(admin_site, page):
    server, registration = admin_site
    page.set_viewport_size({"width": 390, "height": 844})
    _log_in(page, server.url, ADMIN_EMAIL)
    paths = ADMIN_PAGES + [f"/admin/attendees/{registration.id}", f"/admin/attendees/{registration.id}/edit"]
    widths = {}
    for path in paths:
        assert page.goto(server.url + path).status == 200, path
        widths[path] = _overflow(page)
    assert {path: extra for path, extra in widths.items() if extra > 0} == {}


@pytest.mark.browser
def test_the_staff_check_in_page_fits_a_phone(admin_site, page):
    server, _ = admin_site
    _on_a_phone(page, server.url, STAFF_EMAIL, "/admin/check-in?q=helix")
    assert _overflow(page) <= 0


@pytest.mark.browser
def test_the_admin_header_takes_two_rows_at_most_on_a_laptop(admin_site, page):
    server, _ = admin_site
    page.set_viewport_size({"width": 1280, "height": 800})
    _log_in(page, server.url, ADMIN_EMAIL)
    rows = page.evaluate("""() => {
        const tops = [...document.querySelectorAll('.admin-header .brand, .admin-header__account, .admin-nav li')]
            .map(e => Math.round(e.getBoundingClientRect().top / 8));
        return new Set(tops).size;
    }""")
    assert rows <= 2


@pytest.mark.browser
def test_after_a_check_in_the_empty_code_field_has_the_focus_for_the_next_person(admin_site, page):
    server, registration = admin_site
    _on_a_phone(page, server.url, STAFF_EMAIL, "/admin/check-in")
    code = page.get_by_label("Check-in code")
    expect(code).to_be_focused()
    for name, value in {"autocomplete": "off", "autocorrect": "off", "autocapitalize": "off",
                        "spellcheck": "false"}.items():
        expect(code).to_have_attribute(name, value)
    page.keyboard.type(registration.code)
    page.keyboard.press("Enter")
    expect(page.get_by_role("alert")).to_contain_text("Checked in:")
    expect(code).to_be_focused()
    expect(code).to_have_value("")
    page.keyboard.type("NOSUCHCD")
    page.keyboard.press("Enter")
    expect(page.get_by_role("alert")).to_contain_text("Not checked in.")
    expect(code).to_be_focused()


@pytest.mark.browser
def test_every_check_in_day_shows_its_whole_name_on_a_phone(admin_site, page):
    server, _ = admin_site
    _on_a_phone(page, server.url, STAFF_EMAIL, "/admin/check-in")
    days = page.get_by_role("group", name="Day").get_by_role("radio")
    expect(days).to_have_count(2)
    expect(days.first).to_be_checked()
    rights = page.evaluate("[...document.querySelectorAll('#checkin-form label')].map(l => l.getBoundingClientRect().right)")
    assert max(rights) <= 390


@pytest.mark.browser
def test_the_check_in_buttons_keep_a_gap_between_them_on_a_phone(admin_site, page):
    server, _ = admin_site
    _on_a_phone(page, server.url, STAFF_EMAIL, "/admin/check-in")
    expect(page.get_by_role("button", name="Scan QR code with the camera")).to_be_visible()
    boxes = [page.get_by_role("button", name=name, exact=True).bounding_box()
             for name in ("Check in", "Scan QR code with the camera")]
    apart = max(boxes[1]["y"] - (boxes[0]["y"] + boxes[0]["height"]), boxes[1]["x"] - (boxes[0]["x"] + boxes[0]["width"]))
    assert apart >= 8


@pytest.mark.browser
def test_a_second_check_in_gives_the_time_as_the_public_pages_write_it(admin_site, page):
    server, registration = admin_site
    _on_a_phone(page, server.url, STAFF_EMAIL, "/admin/check-in")
    for _ in range(2):
        page.get_by_label("Check-in code").fill(registration.code)
        page.get_by_role("button", name="Check in", exact=True).click()
    expect(page.get_by_role("alert")).to_contain_text(re.compile(r"at (\d{1,2}:\d\d [ap]\.m\.|noon)\."))
