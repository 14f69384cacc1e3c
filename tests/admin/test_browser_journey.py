"""An organiser's morning in Chromium: log in, filter the list, export it as CSV, check someone in by code."""
import csv
import io
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.support.admin import ADMIN_EMAIL, PASSWORD, add_account
from tests.support.registration import add_registration, new_event


@pytest.mark.browser
def test_organiser_logs_in_filters_exports_and_checks_someone_in(make_app, portal_server, page):
    app = make_app()
    add_account(app)
    slug = new_event(app)
    for n, org in enumerate(["Acme Bio", "Acme Bio", "Helix Policy Institute"]):
        add_registration(app, slug, email=f"person{n}@example.org", last_name=f"Person{n}", organization=org)
    grace = add_registration(app, slug, email="grace@example.org", first_name="Grace", last_name="Hopper",
                             organization="=HYPERLINK(\"https://evil.example\")")
    server = portal_server()

    page.goto(f"{server.url}/admin/attendees?event={slug}")
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    page.get_by_label("Email").fill(ADMIN_EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Attendees")).to_be_visible()
    expect(page.get_by_role("status").filter(has_text="4 registrations")).to_be_visible()

    page.get_by_label("Search").fill("acme")
    page.get_by_role("button", name="Apply").click()
    expect(page.get_by_role("status").filter(has_text="2 registrations")).to_be_visible()

    with page.expect_download() as download_info:
        page.get_by_role("button", name="Download").click()
    download = download_info.value
    assert download.suggested_filename.startswith("attendees-") and download.suggested_filename.endswith(".csv")
    rows = list(csv.DictReader(io.StringIO(Path(download.path()).read_text(encoding="utf-8"), newline="")))
    assert sorted(row["Email"] for row in rows) == ["person0@example.org", "person1@example.org"]

    page.get_by_role("link", name="Check-in").click()
    page.get_by_label("Check-in code").fill(grace.code.lower())
    page.get_by_role("button", name="Check in", exact=True).click()
    expect(page.get_by_role("alert")).to_contain_text("Checked in: Grace Hopper")
    page.get_by_label("Check-in code").fill(grace.code)
    page.get_by_role("button", name="Check in", exact=True).click()
    expect(page.get_by_role("alert")).to_contain_text("Already checked in.")
    expect(page.get_by_text("1 checked in").first).to_be_visible()
    assert page.watch.console_errors == []
    assert page.watch.external_requests == []
