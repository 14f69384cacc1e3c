"""The whole journey in Chromium: register, get the email, open its link, change a day, cancel."""
import re

import pytest
from playwright.sync_api import expect

from portal.extensions import db
from portal.registration.demo import seed_demo_event
from tests.support.registration import registrations

MANAGE_LINK = re.compile(r"(https?://\S+/manage/[A-Za-z0-9_.\-]+)")


def plain_text(received) -> str:
    return received.message.get_body(preferencelist=("plain",)).get_content()


@pytest.mark.browser
def test_attendee_registers_reads_the_mail_changes_a_day_and_cancels_in_chromium(
    smtp_env, smtp_server, make_app, registration_server, page, request
):
    app = make_app()
    with app.app_context():
        event, _ = seed_demo_event()
        db.session.commit()
        slug = event.slug
    server = registration_server()
    # The worker renders the confirmation, so it starts once the server has fixed the links' address.
    request.getfixturevalue("celery_worker")

    page.goto(server.url + "/summit")
    page.get_by_role("link", name="Register now").click()
    page.get_by_label("First name").fill("Grace")
    page.get_by_label("Last name").fill("Hopper")
    page.get_by_label("Email address", exact=True).fill("Grace.Hopper@example.org")
    page.get_by_label("Organization").fill("Compiler Society")
    page.get_by_label("Job title").fill("Rear Admiral")
    page.get_by_label("Government ($195.00)").check()
    page.get_by_label(re.compile(r"^Both days")).check()
    page.get_by_label("Dietary needs (optional)").fill("Vegetarian")
    page.get_by_label(re.compile(r"^I have read the privacy notice")).check()
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="Check your answers before you register")).to_be_visible()
    page.get_by_role("button", name="Confirm and register").click()
    expect(page.get_by_role("heading", name="Check your inbox")).to_be_visible()
    expect(page.get_by_text("You are registered for Policy Summit")).to_be_visible()

    [confirmation] = smtp_server.wait_for(1)
    assert confirmation.recipients == ["Grace.Hopper@example.org"]
    link = MANAGE_LINK.search(plain_text(confirmation)).group(1)
    assert link.startswith(server.url + "/manage/")

    page.goto(link)
    expect(page.get_by_role("heading", name="Your registration")).to_be_visible()
    expect(page.get_by_text("Grace Hopper", exact=True)).to_be_visible()
    page.get_by_label(re.compile(r"^Day 1 only")).check()
    page.get_by_role("button", name="Save changes").click()
    expect(page.get_by_text("Your registration is updated")).to_be_visible()
    expect(page.get_by_text(re.compile(r"You have a seat for Day 1 \("))).to_be_visible()
    changed = smtp_server.wait_for(2)[1]
    assert changed.message["Subject"].startswith("Your Policy Summit")

    page.get_by_role("link", name="Cancel my registration").click()
    expect(page.get_by_role("heading", name="Cancel your registration?")).to_be_visible()
    page.get_by_role("button", name="Yes, cancel my registration").click()
    expect(page.get_by_text("Your registration is cancelled.")).to_be_visible()
    cancelled = smtp_server.wait_for(3)[2]
    assert cancelled.message["Subject"].endswith("registration is cancelled")

    assert [r.status for r in registrations(app, slug)] == ["cancelled"]
    assert page.watch.console_errors == []
    assert page.watch.external_requests == []


@pytest.mark.browser
def test_registration_with_check_answers_and_change_by_keyboard_only_without_javascript(
    make_app, live_server, chromium
):
    app = make_app()
    with app.app_context():
        event, _ = seed_demo_event()
        db.session.commit()
        slug = event.slug
    context = chromium.new_context(viewport={"width": 390, "height": 844}, java_script_enabled=False)
    page = context.new_page()
    try:
        page.goto(f"{live_server.url}/events/{slug}/register")
        page.get_by_label("First name").focus()
        for text in ["Grace", "Hopper", "grace@exmaple.org", "Compiler Society", "Rear Admiral"]:
            page.keyboard.type(text)
            page.keyboard.press("Tab")
        # Tab reaches the first category; arrow keys move within a radio group, Space selects.
        page.keyboard.press("Space")
        page.keyboard.press("Tab")
        page.keyboard.press("Space")
        page.get_by_role("button", name="Read the privacy notice").focus()
        page.keyboard.press("Enter")
        expect(page.get_by_role("heading", name="Privacy notice for registration")).to_be_visible()
        page.get_by_role("button", name="Back to the registration form").focus()
        page.keyboard.press("Enter")
        expect(page.get_by_label("Job title")).to_have_value("Rear Admiral")
        page.get_by_label(re.compile(r"^I have read the privacy notice")).focus()
        page.keyboard.press("Space")
        page.get_by_role("button", name="Continue").focus()
        page.keyboard.press("Enter")

        expect(page.get_by_role("heading", name="Check your answers before you register")).to_be_visible()
        expect(page.get_by_text("grace@exmaple.org")).to_be_visible()
        page.get_by_role("button", name="Change email address").focus()
        page.keyboard.press("Enter")
        email = page.get_by_label("Email address", exact=True)
        expect(email).to_be_focused()
        expect(page.get_by_label("Organization")).to_have_value("Compiler Society")
        page.keyboard.press("Control+A")
        page.keyboard.type("grace@example.org")
        page.keyboard.press("Enter")  # implicit submission continues; it does not open the privacy notice
        page.get_by_role("button", name="Confirm and register").focus()
        page.keyboard.press("Enter")

        expect(page.get_by_role("heading", name="Check your inbox")).to_be_visible()
        expect(page.get_by_text("grace@example.org", exact=True)).to_be_visible()
        [registration] = registrations(app, slug)
        assert (registration.email, registration.job_title) == ("grace@example.org", "Rear Admiral")
        assert registration.privacy_accepted_at is not None
    finally:
        context.close()
