"""Error pages: a lost database connection is the "try again" page, never a 500."""
import itertools
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.support.connection_killer import ConnectionKiller
from tests.support.registration import VALID_FORM, new_event
from tests.support.web import csrf_token_from, page_text

VISITORS = 6
KILLING_SECONDS = 8


@pytest.mark.services
def test_requests_whose_database_connection_dies_get_the_try_again_page(portal_env, make_app, portal_server,
                                                                         database_url):
    portal_env["RATELIMIT_ENABLED"] = "0"
    app = make_app()
    slug = new_event(app, day_capacity=10_000)
    server = portal_server(workers=2, threads=4)
    numbers = itertools.count()

    def visitor(_) -> tuple[requests.Session, str]:
        browser = requests.Session()
        return browser, csrf_token_from(browser.get(server.url + "/manage/lost-link", timeout=30).text)

    def visit(visitor):
        """Register and sign up for the newsletter, over and over, while connections are being killed."""
        browser, token = visitor
        answers = []
        deadline = time.monotonic() + KILLING_SECONDS
        while time.monotonic() < deadline:
            address = f"visitor{next(numbers)}@example.org"
            for path, form in ((f"/events/{slug}/register", {**VALID_FORM, "email": address}),
                               ("/newsletter/", {"email": address, "topics": "events", "frequency": "monthly"})):
                response = browser.post(server.url + path, data={**form, "csrf_token": token}, timeout=60)
                answers.extend([*response.history, response])
        return answers

    with ThreadPoolExecutor(VISITORS) as pool:
        visitors = list(pool.map(visitor, range(VISITORS)))
    with ConnectionKiller(database_url, every=0.3) as killer, ThreadPoolExecutor(VISITORS) as pool:
        answers = [answer for visited in pool.map(visit, visitors) for answer in visited]

    assert killer.terminated > 0
    failures = [f"{a.status_code} {a.request.method} {a.url}" for a in answers
                if a.status_code >= 500 and not (a.status_code == 503 and a.headers.get("Retry-After"))]
    assert not failures, f"{len(failures)} of {len(answers)} answers:\n" + "\n".join(failures[:20])
    try_again = [a for a in answers if a.status_code == 503]
    assert all("try again" in page_text(a).lower() for a in try_again)
