"""Every page of the URL map, public and admin (as admin and as staff), in the states a test can
reach: axe-core finds no violation, the page does not scroll sideways at 390 px, and the Nu HTML
Checker finds no error in the HTML served.

Pages without parameters come from the URL map itself, so a new page is checked without being
listed here; pages that need a token or a slug are reached the way a visitor reaches them.
"""
import json
from pathlib import Path

import pytest

from portal.extensions import db
from portal.resources.models import Resource
from tests.support.admin import ADMIN_EMAIL, PASSWORD, STAFF_EMAIL, add_account
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


def page_problems(page) -> dict:
    """The loaded page's axe violations and sideways overflow at this width; empty if it has none."""
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    found = {"axe": axe_violations(page), "overflow_px": overflow if overflow > 0 else 0}
    return found if found["axe"] or found["overflow_px"] else {}


def state_problems(page, url: str, states: list, tmp_path) -> dict:
    """{state name: problems} over (name, path, act) states: open the path, then `act(page)` if given,
    which returns the response it led to. Downloads are skipped; the Nu HTML Checker runs once at the end."""
    problems, documents = {}, []
    for name, path, act in states:
        response = page.goto(url + path)
        if act:
            response = act(page)
        if "text/html" not in response.headers.get("content-type", ""):
            continue
        documents.append((name, response.text()))
        if found := page_problems(page):
            problems[name] = found
    found = vnu_errors({f"page{number}": html for number, (_, html) in enumerate(documents)}, tmp_path)
    for kind, errors in found.items():
        if errors:
            problems.setdefault(documents[int(kind.removeprefix("page"))][0], {})["nu"] = errors[:5]
    return problems


def test_every_public_page_passes_axe_fits_a_phone_and_is_valid_html(public_site, chromium, tmp_path):
    app, slug, url = public_site
    paths = public_pages_without_parameters(app) + public_pages_with_tokens(app, slug)
    # bypass_csp: to inject axe-core itself; the page's own scripts are unchanged.
    context = chromium.new_context(viewport={"width": 390, "height": 844}, bypass_csp=True)
    page = context.new_page()
    try:
        problems = state_problems(page, url, [(path, path, None) for path in paths], tmp_path)
    finally:
        context.close()
    assert problems == {}, json.dumps(problems, indent=1)


# --- Admin pages (logged in as admin and as door staff) -------------------------------------------


#: Downloads, and the pages that end the session.
ADMIN_NOT_PAGES = {"admin.attendee_certificate", "admin.logout"}


def admin_pages(app, registration_id: int) -> list[str]:
    """Every admin GET page of the URL map, with the ids of a registration and a catalog entry.

    A page with other parameters is left out, as are ADMIN_NOT_PAGES.
    """
    with app.app_context():
        values = {"registration_id": registration_id, "resource_id": db.session.query(Resource.id).first()[0]}
        adapter = app.url_map.bind("localhost")
        return sorted(
            adapter.build(rule.endpoint, {name: values[name] for name in rule.arguments})
            for rule in app.url_map.iter_rules()
            if "GET" in rule.methods and rule.endpoint.startswith(("admin.", "deliverability."))
            and rule.arguments <= values.keys() and rule.endpoint not in ADMIN_NOT_PAGES
        )


def checking_in(code: str):
    """An act for state_problems: type `code` into the check-in form and submit it."""
    def act(page):
        page.get_by_label("Check-in code").fill(code)
        with page.expect_navigation() as navigation:
            page.get_by_role("button", name="Check in", exact=True).click()
        return navigation.value
    return act


@pytest.fixture
def admin_site(seeded, make_event, make_registration, live_server):
    slug = make_event()
    ada = make_registration(slug, email="ada.lovelace.with.a.long.address@example.org",
                            organization="Helix Policy Institute for Long Organization Names")
    add_account(seeded)
    add_account(seeded, STAFF_EMAIL, role="staff")
    return seeded, slug, ada, live_server.url


@pytest.mark.parametrize("role", ["admin", "staff"])
def test_every_admin_page_passes_axe_fits_a_phone_and_is_valid_html(admin_site, chromium, tmp_path, role):
    app, slug, ada, url = admin_site
    context = chromium.new_context(viewport={"width": 390, "height": 844}, bypass_csp=True)
    page = context.new_page()
    page.goto(f"{url}/admin/login")
    page.get_by_label("Email").fill(ADMIN_EMAIL if role == "admin" else STAFF_EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/admin/")
    states = [(path, path, None) for path in admin_pages(app, ada.id)] + [
        (path, path, None) for path in (f"/admin/attendees?event={slug}&status=confirmed&q=helix",
                                        f"/admin/check-in?event={slug}&q=ada")
    ] + [
        # After a check-in, a second one of the same code, and a code that does not exist.
        (f"check-in of {code} ({n})", f"/admin/check-in?event={slug}", checking_in(code))
        for n, code in enumerate([ada.code, ada.code, "NOSUCHCD"])
    ]
    try:
        problems = state_problems(page, url, states, tmp_path)
    finally:
        context.close()
    assert problems == {}, json.dumps(problems, indent=1)
