"""RFC 8058 one-click unsubscribe: the list headers, the cookie-less POST, and what a GET does not do."""
import logging
import time
from urllib.parse import urlsplit

import pytest
from itsdangerous import TimestampSigner, URLSafeTimedSerializer

from portal.extensions import db
from portal.newsletter.emails import list_headers
from portal.newsletter.models import Subscriber
from tests.support.newsletter import confirmed_subscriber, history, subscriber_state, token_for
from tests.support.web import csrf_token_from

TWO_YEARS = 2 * 365 * 24 * 3600


def test_a_newsletter_email_carries_well_formed_list_headers(seeded, smtp_env, smtp_server, make_app, celery_worker):
    app = make_app()
    client = app.test_client()
    confirmed_subscriber_over_smtp = confirmed_subscriber  # the worker sends while the helper confirms
    confirmed_subscriber_over_smtp(app, client, "ada@example.org")
    welcome = [m for m in smtp_server.wait_for(2) if m.message["Subject"] == "Welcome to the newsletter"][0]
    message = welcome.message

    unsubscribe = str(message["List-Unsubscribe"])
    assert unsubscribe.startswith("<") and unsubscribe.endswith(">") and "," not in unsubscribe
    url = unsubscribe[1:-1]
    parts = urlsplit(url)
    assert parts.scheme == "http" and parts.path.startswith("/newsletter/unsubscribe/")
    # The tests' base URL is http, where RFC 8058 allows no one-click (see the https tests below).
    assert "List-Unsubscribe-Post" not in message
    assert str(message["List-Id"]) == "Summit Portal newsletter <newsletter.portal.localhost>"

    response = app.test_client().post(parts.path, data={"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    assert subscriber_state(app, "ada@example.org")["status"] == "unsubscribed"


def test_one_click_post_without_cookies_or_csrf_unsubscribes_with_200_and_no_redirect(seeded):
    subscriber_id = confirmed_subscriber(seeded, seeded.test_client(), "ada@example.org")
    token = token_for(seeded, "newsletter-unsubscribe", subscriber_id)
    mail_client = seeded.test_client(use_cookies=False)
    response = mail_client.post(f"/newsletter/unsubscribe/{token}", data="List-Unsubscribe=One-Click",
                                content_type="application/x-www-form-urlencoded")
    assert response.status_code == 200 and response.location is None
    assert subscriber_state(seeded, "ada@example.org")["status"] == "unsubscribed"
    assert "You are unsubscribed" in response.get_data(as_text=True)

    again = mail_client.post(f"/newsletter/unsubscribe/{token}", data={"List-Unsubscribe": "One-Click"})
    assert again.status_code == 200
    assert history(seeded, subscriber_id).count("unsubscribed") == 1


def test_opening_the_unsubscribe_link_only_shows_a_button(seeded):
    client = seeded.test_client()
    subscriber_id = confirmed_subscriber(seeded, client, "ada@example.org")
    token = token_for(seeded, "newsletter-unsubscribe", subscriber_id)
    page = client.get(f"/newsletter/unsubscribe/{token}")
    assert page.status_code == 200 and 'value="One-Click"' in page.get_data(as_text=True)
    assert subscriber_state(seeded, "ada@example.org")["status"] == "confirmed"


def test_a_forged_unsubscribe_token_changes_nothing(seeded):
    subscriber_id = confirmed_subscriber(seeded, seeded.test_client(), "ada@example.org")
    token = token_for(seeded, "newsletter-unsubscribe", subscriber_id)
    response = seeded.test_client().post(f"/newsletter/unsubscribe/{token[:-2]}xx", data={"List-Unsubscribe": "One-Click"})
    assert response.status_code == 400
    assert subscriber_state(seeded, "ada@example.org")["status"] == "confirmed"


def test_a_post_without_the_one_click_body_changes_nothing(seeded):
    subscriber_id = confirmed_subscriber(seeded, seeded.test_client(), "ada@example.org")
    token = token_for(seeded, "newsletter-unsubscribe", subscriber_id)
    response = seeded.test_client().post(f"/newsletter/unsubscribe/{token}", data={})
    assert response.status_code == 400
    assert subscriber_state(seeded, "ada@example.org")["status"] == "confirmed"


def test_a_configured_mailbox_is_offered_as_a_second_unsubscribe_target(seeded, make_app):
    subscriber_id = confirmed_subscriber(seeded, seeded.test_client(), "ada@example.org")
    app = make_app(NEWSLETTER_UNSUBSCRIBE_MAILTO="unsubscribe@example.org")
    with app.app_context():
        headers = list_headers(db.session.get(Subscriber, subscriber_id))
    https, mailto = headers["List-Unsubscribe"].split(", ")
    assert https.startswith("<http") and mailto == "<mailto:unsubscribe@example.org?subject=unsubscribe>"


def headers_for(app, subscriber_id: int) -> dict[str, str]:
    with app.app_context():
        return list_headers(db.session.get(Subscriber, subscriber_id))


def test_an_https_base_url_offers_one_click_unsubscribe(seeded, make_app):
    subscriber_id = confirmed_subscriber(seeded, seeded.test_client(), "ada@example.org")
    headers = headers_for(make_app(PORTAL_BASE_URL="https://summit.example.org"), subscriber_id)
    assert headers["List-Unsubscribe"].startswith("<https://summit.example.org/newsletter/unsubscribe/")
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_an_http_base_url_keeps_the_unsubscribe_link_but_sends_no_one_click_post(seeded, make_app):
    subscriber_id = confirmed_subscriber(seeded, seeded.test_client(), "ada@example.org")
    headers = headers_for(make_app(PORTAL_BASE_URL="http://summit.example.org"), subscriber_id)
    assert headers["List-Unsubscribe"].startswith("<http://summit.example.org/newsletter/unsubscribe/")
    assert "List-Unsubscribe-Post" not in headers


def test_the_list_id_takes_the_senders_domain_not_the_base_urls_host(seeded, make_app):
    subscriber_id = confirmed_subscriber(seeded, seeded.test_client(), "ada@example.org")
    app = make_app(PORTAL_BASE_URL="https://10.0.0.7:8443",
                   MAIL_DEFAULT_SENDER="Policy Summit <summit@society.example>")
    assert headers_for(app, subscriber_id)["List-Id"] == "Summit Portal newsletter <newsletter.society.example>"


def _start_up_warnings(make_app, caplog, **config) -> list[str]:
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        make_app(**config)
    return [r.getMessage() for r in caplog.records if "List-Unsubscribe-Post" in r.getMessage()]


def test_an_http_base_url_off_loopback_is_warned_about_once_at_start_up(make_app, caplog):
    [warning] = _start_up_warnings(make_app, caplog, PORTAL_BASE_URL="http://summit.example.org")
    assert "http://summit.example.org" in warning and "https" in warning


@pytest.mark.parametrize("config", [
    {"PORTAL_BASE_URL": "https://summit.example.org"},
    {"PORTAL_BASE_URL": "http://127.0.0.1:5000"},
    {"PORTAL_BASE_URL": "http://localhost:8080"},
    {"PORTAL_BASE_URL": ""},
    {"PORTAL_BASE_URL": "http://summit.example.org", "DEVELOPMENT": True},
], ids=["https", "loopback", "localhost", "unset", "development"])
def test_no_start_up_warning_where_http_is_expected_or_https_is_used(make_app, caplog, config):
    assert _start_up_warnings(make_app, caplog, **config) == []


class TwoYearsAgo(TimestampSigner):
    def get_timestamp(self):
        return int(time.time()) - TWO_YEARS


def two_year_old_token(app, purpose: str, subscriber_id: int, version: int = 1) -> str:
    serializer = URLSafeTimedSerializer(app.config["SECRET_KEY"], salt=purpose, signer=TwoYearsAgo)
    return serializer.dumps([str(subscriber_id), version])


def test_a_two_year_old_unsubscribe_link_still_unsubscribes_with_one_click(seeded):
    subscriber_id = confirmed_subscriber(seeded, seeded.test_client(), "ada@example.org")
    token = two_year_old_token(seeded, "newsletter-unsubscribe", subscriber_id)
    mail_client = seeded.test_client(use_cookies=False)
    assert mail_client.get(f"/newsletter/unsubscribe/{token}").status_code == 200
    response = mail_client.post(f"/newsletter/unsubscribe/{token}", data={"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    assert subscriber_state(seeded, "ada@example.org")["status"] == "unsubscribed"


def test_a_two_year_old_preferences_link_has_expired(seeded):
    subscriber_id = confirmed_subscriber(seeded, seeded.test_client(), "ada@example.org")
    token = two_year_old_token(seeded, "newsletter-preferences", subscriber_id)
    assert seeded.test_client().get(f"/newsletter/preferences/{token}").status_code == 410


def test_erasure_revokes_an_old_unsubscribe_link(seeded):
    client = seeded.test_client()
    subscriber_id = confirmed_subscriber(seeded, client, "ada@example.org")
    token = two_year_old_token(seeded, "newsletter-unsubscribe", subscriber_id)
    preferences = f"/newsletter/preferences/{token_for(seeded, 'newsletter-preferences', subscriber_id)}"
    erase_page = client.get(preferences + "/erase").get_data(as_text=True)
    client.post(preferences + "/erase", data={"csrf_token": csrf_token_from(erase_page)})
    response = client.post(f"/newsletter/unsubscribe/{token}", data={"List-Unsubscribe": "One-Click"})
    assert response.status_code == 400 and "not valid" in response.get_data(as_text=True)
