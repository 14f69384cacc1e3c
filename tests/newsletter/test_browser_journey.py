"""The subscriber's journey in Chromium: footer signup, confirm, change preferences, one-click unsubscribe."""
import re

import pytest
from playwright.sync_api import expect

from portal.extensions import db
from portal.resources.service import seed_resources
from tests.support.newsletter import links_in, subscriber_state
from tests.support.worker import start_worker


def plain_text(received) -> str:
    return received.message.get_body(preferencelist=("plain",)).get_content()


@pytest.mark.browser
def test_subscriber_signs_up_in_the_footer_confirms_chooses_topics_and_unsubscribes_in_one_click(
    smtp_env, smtp_server, make_app, portal_server, portal_env, tmp_path, page
):
    app = make_app()
    with app.app_context():
        seed_resources()
        db.session.commit()
    server = portal_server()
    # Started after the server, so the links it mails point at the server's port.
    worker = start_worker(portal_env, tmp_path)
    try:
        page.goto(server.url + "/resources")
        page.get_by_role("button", name="Reject all").click()
        footer = page.locator("form.site-footer__signup")
        footer.get_by_label("Your email address").fill("Rosalind.Franklin@example.org")
        footer.get_by_role("button", name="Subscribe").click()
        expect(page.get_by_role("heading", name="Check your inbox")).to_be_visible()

        [request_mail] = smtp_server.wait_for(1)
        assert request_mail.recipients == ["Rosalind.Franklin@example.org"]
        confirm_link = links_in(plain_text(request_mail))["confirm"]
        assert confirm_link.startswith(server.url)
        page.goto(confirm_link)
        assert subscriber_state(app, "Rosalind.Franklin@example.org")["status"] == "pending"
        page.get_by_role("button", name="Confirm subscription").click()
        expect(page.get_by_text("your subscription is confirmed")).to_be_visible()
        expect(page.get_by_role("heading", name="Your newsletter preferences")).to_be_visible()

        for label in ("Journals", "Community", "Policy"):
            page.get_by_label(label, exact=True).uncheck()
        page.get_by_label(re.compile(r"^Weekly")).check()
        page.get_by_role("button", name="Save preferences").click()
        expect(page.get_by_text("Your preferences are saved.")).to_be_visible()
        state = subscriber_state(app, "Rosalind.Franklin@example.org")
        assert state["frequency"] == "weekly" and "journals" not in state["topics"] and state["events"]

        welcome = smtp_server.wait_for(2)[1]
        unsubscribe_url = str(welcome.message["List-Unsubscribe"]).strip("<>")
        page.goto(unsubscribe_url)
        page.get_by_role("button", name="Unsubscribe").click()
        expect(page.get_by_role("heading", name="You are unsubscribed")).to_be_visible()
        assert subscriber_state(app, "Rosalind.Franklin@example.org")["status"] == "unsubscribed"

        assert page.watch.console_errors == []
        assert page.watch.external_requests == []
    finally:
        worker.stop()
