"""Signing up: the forms, the same answer for everyone, caps and limits, and the registration opt-in."""
import re

from portal.extensions import db
from tests.support.mail import outbox
from tests.support.newsletter import (
    decide_requests,
    footer_signup,
    history,
    links_in,
    signup,
    subscriber_state,
)
from tests.support.registration import register
from tests.support.web import csrf_token_from, page_text


def test_signup_page_offers_the_catalogs_topics_plus_events_and_both_frequencies(seeded):
    html = seeded.test_client().get("/newsletter/").get_data(as_text=True)
    topics = set(re.findall(r'name="topics"[^>]*value="([^"]+)"', html))
    assert {"events", "clinical-trials"} <= topics and len(topics) > 5
    assert 'value="weekly"' in html and 'value="monthly"' in html


def test_signup_creates_a_pending_subscriber_with_the_choices_and_mails_a_confirmation_request(seeded):
    client = seeded.test_client()
    response = signup(client, "ada@example.org", first_name="Ada", topics=["clinical-trials", "events"],
                      frequency="weekly")
    assert response.status_code == 303 and response.location.endswith("/newsletter/check-inbox")
    assert decide_requests(seeded) == ["confirmation_sent"]
    state = subscriber_state(seeded, "ada@example.org")
    assert state["status"] == "pending" and state["first_name"] == "Ada"
    assert state["topics"] == ["clinical-trials"] and state["events"] and state["frequency"] == "weekly"
    [mail] = outbox(seeded, "newsletter_confirm")
    assert mail.to == "ada@example.org" and "confirm" in links_in(mail.text)
    assert "Clinical trials" in mail.text


def test_signup_errors_are_shown_next_to_each_field_and_values_are_kept(seeded):
    client = seeded.test_client()
    response = signup(client, "not-an-address", first_name="Ada", topics=[])
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'id="email-error"' in html and "Enter a valid email address" in html
    assert 'id="topics-error"' in html and "Choose at least one topic." in html
    assert 'value="not-an-address"' in html and 'value="Ada"' in html
    assert outbox(seeded) == [] and decide_requests(seeded) == []


def test_an_unknown_topic_or_frequency_is_a_field_error(seeded):
    response = signup(seeded.test_client(), topics=["no-such-topic"], frequency="hourly")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Choose topics from the list." in html and "Choose how often you want the digest." in html


def test_the_footer_form_subscribes_to_everything_monthly_from_any_page(seeded):
    response = footer_signup(seeded.test_client(), "grace@example.org")
    assert response.status_code == 303
    decide_requests(seeded)
    state = subscriber_state(seeded, "grace@example.org")
    assert state["status"] == "pending" and state["events"] and state["frequency"] == "monthly"
    assert "clinical-trials" in state["topics"]
    assert history(seeded, state["id"]) == ["signup", "confirmation_sent"]


def test_a_bad_address_in_the_footer_form_opens_the_full_form_with_the_error_and_the_address(seeded):
    response = footer_signup(seeded.test_client(), "grace@")
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert 'id="email-error"' in html and 'value="grace@"' in html
    assert decide_requests(seeded) == []


def _answer(client, email: str) -> tuple[int, str]:
    response = signup(client, email)
    follow = client.get(response.location)
    body = re.sub(r'name="(footer-)?csrf_token"[^>]*value="[^"]+"', "", follow.get_data(as_text=True))
    # The page echoes the address typed, whoever it belongs to; everything else must match.
    assert email in body
    body = body.replace(email, "ADDRESS")
    return (response.status_code, response.location, follow.status_code, body)


def test_new_pending_and_confirmed_addresses_get_the_identical_answer(seeded):
    from tests.support.newsletter import confirmed_subscriber

    client = seeded.test_client()
    confirmed_subscriber(seeded, client, "confirmed@example.org")
    signup(client, "pending@example.org")
    decide_requests(seeded)
    answers = {email: _answer(client, email) for email in ("new@example.org", "pending@example.org",
                                                            "confirmed@example.org")}
    assert len(set(answers.values())) == 1, answers


def test_a_confirmed_address_gets_an_already_subscribed_email_instead_of_a_confirmation(seeded):
    from tests.support.newsletter import confirmed_subscriber

    client = seeded.test_client()
    confirmed_subscriber(seeded, client, "ada@example.org")
    signup(client, "ADA@example.org")
    assert decide_requests(seeded) == ["already_subscribed_sent"]
    [mail] = outbox(seeded, "newsletter_already_subscribed")
    assert mail.to == "ada@example.org" and "preferences" in links_in(mail.text)
    assert len(outbox(seeded, "newsletter_confirm")) == 1


def test_the_fourth_confirmation_request_within_a_day_is_not_sent(seeded):
    client = seeded.test_client()
    for _ in range(4):
        signup(client, "ada@example.org")
    assert decide_requests(seeded) == ["confirmation_sent"] * 3 + ["capped"]
    assert len(outbox(seeded, "newsletter_confirm")) == 3


def test_signups_from_one_address_are_limited_with_429(make_app, seeded):
    app = make_app(NEWSLETTER_SIGNUP_RATE_LIMIT="2 per minute")
    client = app.test_client()
    statuses = [signup(client, f"user{n}@example.org").status_code for n in range(3)]
    assert statuses == [303, 303, 429]


def test_a_filled_honeypot_looks_like_success_and_writes_nothing(seeded):
    response = signup(seeded.test_client(), "bot@example.org", website="http://spam.example")
    assert response.status_code == 303
    assert decide_requests(seeded) == [] and subscriber_state(seeded, "bot@example.org") is None


def test_a_first_name_with_a_line_break_is_a_field_error(seeded):
    response = signup(seeded.test_client(), "ada@example.org", first_name="Ada\r\nBcc: evil@example.org")
    assert response.status_code == 200
    assert 'id="first_name-error"' in response.get_data(as_text=True)
    assert decide_requests(seeded) == []


def test_the_registration_opt_in_is_unticked_and_registering_alone_subscribes_no_one(seeded, make_event):
    slug = make_event()
    client = seeded.test_client()
    html = client.get(f"/events/{slug}/register").get_data(as_text=True)
    checkbox = re.search(r'<input[^>]*name="newsletter"[^>]*>', html).group(0)
    assert "checked" not in checkbox
    register(client, slug, email="ada@example.org")
    assert decide_requests(seeded) == []


def test_the_registration_opt_in_sends_its_own_confirmation_request(seeded, make_event):
    slug = make_event()
    client = seeded.test_client()
    response = register(client, slug, email="ada@example.org", first_name="Ada", newsletter="y")
    assert response.status_code == 303 and response.decided == ["sent", "confirmation_sent"]
    state = subscriber_state(seeded, "ada@example.org")
    assert state["status"] == "pending"
    [mail] = outbox(seeded, "newsletter_confirm")
    assert mail.to == "ada@example.org" and "Dear Ada" in mail.text
    with seeded.app_context():
        from portal.newsletter.models import Subscriber

        assert db.session.get(Subscriber, state["id"]).signup_source == "registration"


def test_the_check_inbox_page_echoes_the_address_typed_with_wrong_address_help(seeded):
    client = seeded.test_client()
    signup(client, "ada@example.org")
    text = page_text(client.get("/newsletter/check-inbox"))
    assert "sending an email to ada@example.org" in text and "Wrong address?" in text
    again = client.get("/newsletter/?email=again").get_data(as_text=True)
    assert 'value="ada@example.org"' in again


def test_the_check_inbox_page_resends_the_same_signup(seeded):
    client = seeded.test_client()
    signup(client, "ada@example.org", topics=["clinical-trials"], frequency="weekly")
    token = csrf_token_from(client.get("/newsletter/check-inbox").get_data(as_text=True))
    response = client.post("/newsletter/check-inbox/resend", data={"csrf_token": token})
    assert response.status_code == 303 and response.location.endswith("/newsletter/check-inbox")
    assert decide_requests(seeded) == ["confirmation_sent", "confirmation_sent"]
    state = subscriber_state(seeded, "ada@example.org")
    assert state["topics"] == ["clinical-trials"] and state["frequency"] == "weekly"
    assert len(outbox(seeded, "newsletter_confirm")) == 2


def test_resending_without_a_signup_in_this_browser_goes_to_the_signup_page(seeded):
    client = seeded.test_client()
    token = csrf_token_from(client.get("/newsletter/").get_data(as_text=True))
    response = client.post("/newsletter/check-inbox/resend", data={"csrf_token": token})
    assert response.status_code == 303 and response.location.endswith("/newsletter/")
    assert decide_requests(seeded) == []


def test_the_signup_page_starts_with_no_topic_ticked(seeded):
    html = seeded.test_client().get("/newsletter/").get_data(as_text=True)
    assert not re.search(r'<input[^>]*checked[^>]*name="topics"|<input[^>]*name="topics"[^>]*checked', html)
    assert re.search(r'<input[^>]*checked[^>]*value="monthly"|<input[^>]*value="monthly"[^>]*checked', html)
