"""The registration journey's own states (check answers, the notice with the answers, the outcome) pass axe, fit a phone and are valid HTML."""
import json

import pytest

from tests.support.registration import new_event
from tests.test_every_page import state_problems


TYPED = {"First name": "Grace", "Last name": "Hopper", "Organization": "Compiler Society",
         "Job title": "Rear Admiral", "Dietary needs (optional)": "Vegetarian\nno nuts"}


def _filled(page):
    for label, value in TYPED.items():
        page.get_by_label(label).fill(value)
    page.get_by_label("Email address", exact=True).fill("grace.brewster.murray.hopper@example.org")
    for choice in ("#category-0", "#days-0", "#privacy"):
        page.locator(choice).check()


def _click(page, name: str):
    with page.expect_navigation() as navigation:
        page.get_by_role("button", name=name).click()
    return navigation.value


def _check_page(page):
    _filled(page)
    return _click(page, "Continue")


def _notice_with_answers(page):
    _filled(page)
    return _click(page, "Read the privacy notice")


def _outcome(page):
    _check_page(page)
    return _click(page, "Confirm and register")


@pytest.mark.browser
def test_check_answers_notice_and_outcome_pass_axe_fit_a_phone_and_are_valid_html(
    make_app, live_server, chromium, tmp_path
):
    slug = new_event(make_app(), day_capacity=1)
    register = f"/events/{slug}/register"
    states = [("check answers", register, _check_page), ("privacy notice with answers", register, _notice_with_answers),
              ("outcome", register, _outcome)]
    context = chromium.new_context(viewport={"width": 390, "height": 844}, bypass_csp=True)
    page = context.new_page()
    try:
        problems = state_problems(page, live_server.url, states, tmp_path)
    finally:
        context.close()
    assert problems == {}, json.dumps(problems, indent=1)
