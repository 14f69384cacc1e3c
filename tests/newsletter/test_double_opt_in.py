"""Double opt-in over real SMTP: only the POST from the confirmation page confirms; links have one purpose."""
import time

from itsdangerous import URLSafeTimedSerializer

from tests.support.mail import outbox
from tests.support.newsletter import (
    confirmed_subscriber,
    decide_requests,
    history,
    links_in,
    local_path,
    signup,
    subscriber_state,
    token_for,
)
from tests.support.web import csrf_token_from, page_text


def body_text(received) -> str:
    return received.message.get_body(preferencelist=("plain",)).get_content()


def test_signup_confirmation_at_smtp_get_keeps_pending_post_confirms_then_a_welcome_arrives(
    seeded, smtp_env, smtp_server, make_app, celery_worker
):
    app = make_app()
    client = app.test_client()
    assert signup(client, "ada@example.org", first_name="Ada", topics=["clinical-trials", "events"]).status_code == 303

    [request_mail] = smtp_server.wait_for(1)
    assert request_mail.recipients == ["ada@example.org"]
    assert request_mail.message["Subject"] == "Please confirm your newsletter subscription"
    confirm_path = local_path(links_in(body_text(request_mail))["confirm"])

    page = client.get(confirm_path)
    assert page.status_code == 200
    assert subscriber_state(app, "ada@example.org")["status"] == "pending"

    response = client.post(confirm_path, data={"csrf_token": csrf_token_from(page.get_data(as_text=True))})
    assert response.status_code == 303 and "/newsletter/preferences/" in response.location
    state = subscriber_state(app, "ada@example.org")
    assert state["status"] == "confirmed" and state["confirmed_at"] is not None
    assert state["consent_source"] == "page" and state["privacy_policy_version"] == "2026-11"

    welcome = smtp_server.wait_for(2)[1]
    assert welcome.message["Subject"] == "Welcome to the newsletter"
    text = body_text(welcome)
    assert "Clinical trials" in text and "The Policy Summit and other events" in text
    assert "preferences" in links_in(text)
    assert history(app, state["id"]) == ["signup", "confirmation_sent", "confirmed"]


def test_confirming_twice_changes_nothing_and_sends_one_welcome(seeded):
    client = seeded.test_client()
    subscriber_id = confirmed_subscriber(seeded, client, "ada@example.org")
    path = f"/newsletter/confirm/{token_for(seeded, 'newsletter-confirm', subscriber_id)}"
    page = client.get(path)
    assert "already confirmed" in page.get_data(as_text=True)
    client.post(path, data={"csrf_token": csrf_token_from(client.get("/newsletter/").get_data(as_text=True))})
    assert len(outbox(seeded, "newsletter_welcome")) == 1


def test_a_token_made_for_one_purpose_is_refused_for_every_other(seeded):
    client = seeded.test_client()
    subscriber_id = confirmed_subscriber(seeded, client, "ada@example.org")
    confirm = token_for(seeded, "newsletter-confirm", subscriber_id)
    unsubscribe = token_for(seeded, "newsletter-unsubscribe", subscriber_id)
    preferences = token_for(seeded, "newsletter-preferences", subscriber_id)
    assert client.get(f"/newsletter/preferences/{confirm}").status_code == 400
    assert client.get(f"/newsletter/confirm/{unsubscribe}").status_code == 400
    assert client.post(f"/newsletter/unsubscribe/{preferences}", data={"List-Unsubscribe": "One-Click"}).status_code == 400
    assert subscriber_state(seeded, "ada@example.org")["status"] == "confirmed"


def test_an_expired_confirmation_link_shows_a_page_offering_a_fresh_link(seeded, make_app):
    client = seeded.test_client()
    signup(client, "ada@example.org")
    decide_requests(seeded)
    subscriber_id = subscriber_state(seeded, "ada@example.org")["id"]
    token = token_for(seeded, "newsletter-confirm", subscriber_id)
    time.sleep(2.1)  # token timestamps have whole-second resolution
    app = make_app(NEWSLETTER_CONFIRM_LINK_MAX_AGE=1)
    response = app.test_client().get(f"/newsletter/confirm/{token}")
    html = response.get_data(as_text=True)
    assert response.status_code == 410
    assert "This link has expired" in html and 'action="/newsletter/manage"' in html
    assert subscriber_state(seeded, "ada@example.org")["status"] == "pending"


def test_tampered_and_foreign_tokens_get_the_invalid_link_page_never_a_500(seeded):
    client = seeded.test_client()
    subscriber_id = confirmed_subscriber(seeded, client, "ada@example.org")
    good = token_for(seeded, "newsletter-preferences", subscriber_id)
    forged = URLSafeTimedSerializer("not-our-key", salt="newsletter-preferences").dumps([str(subscriber_id), 1])
    wrong_shape = URLSafeTimedSerializer(seeded.config["SECRET_KEY"], salt="newsletter-preferences").dumps({"id": 1})
    for token in (good[:-3] + "abc", forged, wrong_shape, "x" * 500, "%00"):
        response = client.get(f"/newsletter/preferences/{token}")
        assert response.status_code == 400, token
        assert "This link is not valid" in response.get_data(as_text=True)


def test_a_first_name_with_cr_lf_never_adds_a_header_or_recipient_at_the_smtp_server(
    seeded, smtp_env, smtp_server, make_app, celery_worker
):
    from portal.extensions import db
    from portal.newsletter import intake
    from portal.newsletter.models import SignupSource
    from portal.newsletter.service import Preferences

    app = make_app()
    with app.app_context():
        # Past the form, which refuses it: straight into the service, as other code might.
        intake.request_signup("ada@example.org", "Ada\r\nBcc: evil@example.org\r\nX-Injected: yes",
                              Preferences((), True, "monthly"), SignupSource.PAGE)
        db.session.commit()
        from portal.celery_app import publish_committed_tasks

        publish_committed_tasks()
    [received] = smtp_server.wait_for(1)
    assert received.recipients == ["ada@example.org"]
    message = received.message
    assert message["Bcc"] is None and message["X-Injected"] is None
    assert "evil@example.org" not in "".join(f"{name}: {value}" for name, value in message.items())


def test_an_address_that_could_inject_a_header_is_refused_before_anything_is_written(seeded):
    import pytest

    from portal.extensions import db
    from portal.mail import InvalidEmailError
    from portal.newsletter import intake
    from portal.newsletter.models import SignupSource
    from portal.newsletter.service import Preferences

    with seeded.app_context():
        with pytest.raises(InvalidEmailError):
            intake.request_signup("ada@example.org\r\nBcc: evil@example.org", "", Preferences((), True, "monthly"),
                                  SignupSource.PAGE)
        db.session.rollback()
    assert decide_requests(seeded) == []


def test_the_confirm_page_names_the_address_and_what_was_chosen_in_one_sentence(seeded):
    client = seeded.test_client()
    signup(client, "ada@example.org", topics=["clinical-trials", "events"], frequency="weekly")
    decide_requests(seeded)
    subscriber_id = subscriber_state(seeded, "ada@example.org")["id"]
    page = client.get(f"/newsletter/confirm/{token_for(seeded, 'newsletter-confirm', subscriber_id)}")
    text = page_text(page)
    assert ("You asked for the weekly digest about Clinical trials and the Policy Summit and other events, "
            "sent to ada@example.org") in text
    assert "Wrong address" in text
