"""RFC 8058 one-click unsubscribe: the list headers, the cookie-less POST, and what a GET does not do."""
from urllib.parse import urlsplit

from tests.support.newsletter import confirmed_subscriber, history, subscriber_state, token_for


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
    assert parts.scheme in {"http", "https"} and parts.path.startswith("/newsletter/unsubscribe/")
    assert str(message["List-Unsubscribe-Post"]) == "List-Unsubscribe=One-Click"
    list_id = str(message["List-Id"])
    assert list_id.endswith(">") and "<newsletter." in list_id

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
    from portal.extensions import db
    from portal.newsletter.emails import list_headers
    from portal.newsletter.models import Subscriber

    subscriber_id = confirmed_subscriber(seeded, seeded.test_client(), "ada@example.org")
    app = make_app(NEWSLETTER_UNSUBSCRIBE_MAILTO="unsubscribe@example.org")
    with app.app_context():
        headers = list_headers(db.session.get(Subscriber, subscriber_id))
    https, mailto = headers["List-Unsubscribe"].split(", ")
    assert https.startswith("<http") and mailto == "<mailto:unsubscribe@example.org?subject=unsubscribe>"
