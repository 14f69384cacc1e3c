"""Every page of the URL map, in the states a test can reach: axe-core finds no violation, the page
does not scroll sideways at 390 px, and the Nu HTML Checker finds no error in the HTML served.

Pages without parameters come from the URL map itself, so a new page is checked without being
listed here; pages that need a token or a slug are reached the way a visitor reaches them.
"""
import json
from pathlib import Path

import pytest

from tests.support.mail import outbox
from tests.support.newsletter import decide_requests, signup, subscriber_state, token_for
from tests.support.registration import manage_path, register
from tests.support.vnu import vnu_errors

AXE = Path(__file__).resolve().parents[1] / "node_modules" / "axe-core" / "axe.min.js"
pytestmark = pytest.mark.browser

#: GET pages without parameters that are not pages a visitor reads.
NOT_PAGES = {"health.healthz", "dev_mail.inbox"}


def public_pages_without_parameters(app) -> list[str]:
    return sorted(
        rule.rule for rule in app.url_map.iter_rules()
        if "GET" in rule.methods and not rule.arguments and rule.endpoint not in NOT_PAGES
        and not rule.endpoint.startswith(("admin.", "deliverability.", "static"))
    )


def public_pages_with_tokens(app, slug: str) -> list[str]:
    """A subscriber's and an attendee's own pages, reached from the links they are sent."""
    client = app.test_client()
    signup(client, "ada@example.org", topics=["clinical-trials", "events"], frequency="weekly")
    decide_requests(app)
    subscriber = subscriber_state(app, "ada@example.org")["id"]
    preferences = token_for(app, "newsletter-preferences", subscriber)
    register(client, slug, email="grace@example.org")
    [confirmed] = outbox(app, "registration_confirmed")
    manage = manage_path(confirmed.text)
    return [
        f"/newsletter/confirm/{token_for(app, 'newsletter-confirm', subscriber)}",
        f"/newsletter/preferences/{preferences}",
        f"/newsletter/preferences/{preferences}/erase",
        f"/newsletter/unsubscribe/{token_for(app, 'newsletter-unsubscribe', subscriber)}",
        f"/events/{slug}",
        f"/events/{slug}/register",
        f"/events/{slug}/privacy",
        manage,
        f"{manage}/cancel",
        f"{manage}/erase",
        "/no-such-page",
    ]


@pytest.fixture
def public_site(seeded, make_event, live_server):
    return seeded, make_event(), live_server.url


def axe_violations(page) -> list[dict]:
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("async () => (await axe.run(document, {resultTypes: ['violations']})).violations")
    return [{"id": v["id"], "nodes": [n["target"] for n in v["nodes"]][:3]} for v in result]


def test_every_public_page_passes_axe_fits_a_phone_and_is_valid_html(public_site, chromium, tmp_path):
    app, slug, url = public_site
    paths = public_pages_without_parameters(app) + public_pages_with_tokens(app, slug)
    # bypass_csp: to inject axe-core itself; the page's own scripts are unchanged.
    context = chromium.new_context(viewport={"width": 390, "height": 844}, bypass_csp=True)
    page = context.new_page()
    problems, documents = {}, {}
    try:
        for number, path in enumerate(paths):
            response = page.goto(url + path)
            documents[f"page{number}"] = response.text()
            overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            found = {"axe": axe_violations(page), "overflow_px": overflow if overflow > 0 else 0}
            if found["axe"] or found["overflow_px"]:
                problems[path] = found
    finally:
        context.close()
    for kind, errors in vnu_errors(documents, tmp_path).items():
        if errors:
            problems.setdefault(paths[int(kind.removeprefix("page"))], {})["nu"] = errors[:5]
    assert problems == {}, json.dumps(problems, indent=1)
