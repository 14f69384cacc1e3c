"""The preference centre: topics, frequency, pause, unsubscribe and back, and the magic link."""
import re
from datetime import date, timedelta

from tests.support.mail import outbox
from tests.support.newsletter import (
    confirmed_subscriber,
    decide_requests,
    links_in,
    local_path,
    subscriber_state,
    token_for,
)
from tests.support.web import csrf_token_from


def _open(client, app, subscriber_id):
    path = f"/newsletter/preferences/{token_for(app, 'newsletter-preferences', subscriber_id)}"
    page = client.get(path)
    return path, page, csrf_token_from(page.get_data(as_text=True))


def test_the_page_shows_the_current_choices_and_saves_new_ones(seeded):
    client = seeded.test_client()
    subscriber_id = confirmed_subscriber(seeded, client, "ada@example.org", topics=["clinical-trials", "events"])
    path, page, csrf = _open(client, seeded, subscriber_id)
    html = page.get_data(as_text=True)
    assert re.search(r'<input[^>]*checked[^>]*value="clinical-trials"|<input[^>]*value="clinical-trials"[^>]*checked', html)
    response = client.post(path, data={"csrf_token": csrf, "topics": ["regulatory"], "frequency": "weekly"})
    assert response.status_code == 303
    state = subscriber_state(seeded, "ada@example.org")
    assert state["topics"] == ["regulatory"] and not state["events"] and state["frequency"] == "weekly"
    assert "Your preferences are saved." in client.get(path).get_data(as_text=True)


def test_a_pause_in_the_past_or_beyond_a_year_is_a_field_error_and_a_valid_one_is_saved(seeded):
    client = seeded.test_client()
    subscriber_id = confirmed_subscriber(seeded, client, "ada@example.org")
    path, _, csrf = _open(client, seeded, subscriber_id)
    base = {"csrf_token": csrf, "topics": ["events"], "frequency": "monthly"}
    for bad in (date.today().isoformat(), (date.today() + timedelta(days=400)).isoformat(), "31/12/2026"):
        response = client.post(path, data={**base, "paused_until": bad})
        assert response.status_code == 200 and 'id="paused_until-error"' in response.get_data(as_text=True), bad
    assert subscriber_state(seeded, "ada@example.org")["paused_until"] is None
    until = date.today() + timedelta(days=30)
    client.post(path, data={**base, "paused_until": until.isoformat()})
    assert subscriber_state(seeded, "ada@example.org")["paused_until"] == until


def test_choosing_no_topic_keeps_the_old_choices_and_says_why(seeded):
    client = seeded.test_client()
    subscriber_id = confirmed_subscriber(seeded, client, "ada@example.org")
    path, _, csrf = _open(client, seeded, subscriber_id)
    response = client.post(path, data={"csrf_token": csrf, "frequency": "monthly"})
    assert "Choose at least one topic." in response.get_data(as_text=True)
    assert subscriber_state(seeded, "ada@example.org")["events"] is True


def test_unsubscribe_from_everything_then_resubscribe_from_the_same_page(seeded):
    client = seeded.test_client()
    subscriber_id = confirmed_subscriber(seeded, client, "ada@example.org")
    path, _, csrf = _open(client, seeded, subscriber_id)
    client.post(path + "/unsubscribe", data={"csrf_token": csrf})
    assert subscriber_state(seeded, "ada@example.org")["status"] == "unsubscribed"
    assert "You are unsubscribed" in client.get(path).get_data(as_text=True)
    client.post(path + "/resubscribe", data={"csrf_token": csrf})
    assert subscriber_state(seeded, "ada@example.org")["status"] == "confirmed"


def test_pages_reached_by_a_token_are_private(seeded):
    client = seeded.test_client()
    subscriber_id = confirmed_subscriber(seeded, client, "ada@example.org")
    paths = [
        f"/newsletter/preferences/{token_for(seeded, 'newsletter-preferences', subscriber_id)}",
        f"/newsletter/confirm/{token_for(seeded, 'newsletter-confirm', subscriber_id)}",
        f"/newsletter/unsubscribe/{token_for(seeded, 'newsletter-unsubscribe', subscriber_id)}",
        "/newsletter/preferences/not-a-token",
    ]
    for path in paths:
        response = client.get(path)
        assert response.headers["Cache-Control"] == "no-store", path
        assert response.headers["Referrer-Policy"] == "same-origin", path
        assert "noindex" in response.headers["X-Robots-Tag"], path
        assert '<meta name="robots" content="noindex, nofollow">' in response.get_data(as_text=True), path


def _ask_for_link(client, email):
    page = client.get("/newsletter/manage")
    response = client.post("/newsletter/manage", data={"csrf_token": csrf_token_from(page.get_data(as_text=True)),
                                                      "email": email})
    return response.status_code, response.location, client.get(response.location).status_code


def test_the_magic_link_answer_is_the_same_for_known_and_unknown_addresses(seeded):
    client = seeded.test_client()
    confirmed_subscriber(seeded, client, "ada@example.org")
    assert _ask_for_link(client, "Ada@Example.org") == _ask_for_link(client, "nobody@example.org")
    assert decide_requests(seeded) == ["manage_link_sent", "unknown"]
    [mail] = outbox(seeded, "newsletter_manage_link")
    assert mail.to == "ada@example.org"
    page = client.get(local_path(links_in(mail.text)["preferences"]))
    assert page.status_code == 200 and "Your newsletter preferences" in page.get_data(as_text=True)


def test_magic_links_are_capped_per_address_and_day(seeded):
    client = seeded.test_client()
    confirmed_subscriber(seeded, client, "ada@example.org")
    for _ in range(4):
        _ask_for_link(client, "ada@example.org")
    assert decide_requests(seeded) == ["manage_link_sent"] * 3 + ["capped"]
