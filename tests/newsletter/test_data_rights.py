"""Take your data with you, or erase it: and after erasure, no mail until a new double opt-in."""
import json

from sqlalchemy import select

from portal.extensions import db
from portal.mail.models import OutgoingEmail
from portal.newsletter.models import SuppressedAddress
from tests.support.mail import outbox
from tests.support.newsletter import (
    confirmed_subscriber,
    decide_requests,
    footer_signup,
    history,
    signup,
    subscriber_state,
    token_for,
)
from tests.support.registration import register
from tests.support.web import csrf_token_from


def _preferences(client, app, subscriber_id):
    path = f"/newsletter/preferences/{token_for(app, 'newsletter-preferences', subscriber_id)}"
    return path, csrf_token_from(client.get(path).get_data(as_text=True))


def test_the_export_holds_subscription_preferences_consent_history_and_emails(seeded):
    client = seeded.test_client()
    subscriber_id = confirmed_subscriber(seeded, client, "ada@example.org", first_name="Ada",
                                         topics=["clinical-trials", "events"])
    path, csrf = _preferences(client, seeded, subscriber_id)
    response = client.post(path + "/export", data={"csrf_token": csrf})
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert "attachment" in response.headers["Content-Disposition"]
    data = json.loads(response.get_data(as_text=True))
    assert data["subscription"]["email"] == "ada@example.org" and data["subscription"]["first_name"] == "Ada"
    assert data["subscription"]["status"] == "confirmed" and data["subscription"]["consent_source"] == "page"
    assert data["preferences"] == {"topics": ["clinical-trials"], "events": True, "frequency": "monthly",
                                   "paused_until": None}
    assert [e["kind"] for e in data["consent_events"]] == ["signup", "confirmation_sent", "confirmed"]
    assert data["consent_events"][2]["privacy_policy_version"] == "2026-11"
    assert [m["name"] for m in data["emails"]] == ["newsletter_confirm", "newsletter_welcome"]
    assert all(m["to"] == "ada@example.org" for m in data["emails"])


def test_erasure_replaces_personal_data_withholds_queued_mail_and_revokes_links(seeded):
    client = seeded.test_client()
    subscriber_id = confirmed_subscriber(seeded, client, "ada@example.org", first_name="Ada")
    path, csrf = _preferences(client, seeded, subscriber_id)
    assert client.get(path + "/erase").status_code == 200
    assert subscriber_state(seeded, "ada@example.org")["status"] == "confirmed"  # GET changes nothing
    response = client.post(path + "/erase", data={"csrf_token": csrf})
    assert response.status_code == 200 and "Your data is erased" in response.get_data(as_text=True)

    assert subscriber_state(seeded, "ada@example.org") is None
    with seeded.app_context():
        rows = list(db.session.scalars(select(OutgoingEmail)))
        assert {row.status for row in rows} == {"withheld"}  # nothing had been sent yet
        assert all(row.to_address == "erased@invalid" and row.body_text == "" for row in rows)
        assert db.session.scalar(select(SuppressedAddress.reason)) == "erased"
    assert client.get(path).status_code == 400
    assert history(seeded, subscriber_id)[-1] == "erased"


def test_after_erasure_the_registration_opt_in_mails_nothing_until_a_new_double_opt_in(seeded, make_event):
    slug = make_event()
    client = seeded.test_client()
    subscriber_id = confirmed_subscriber(seeded, client, "ada@example.org")
    path, csrf = _preferences(client, seeded, subscriber_id)
    client.post(path + "/erase", data={"csrf_token": csrf})
    before = len(outbox(seeded))

    assert register(client, slug, email="ada@example.org", newsletter="y").decided == ["sent", "suppressed"]
    assert [m.name for m in outbox(seeded)[before:]] == ["registration_confirmed"]

    # Only the newsletter's own form starts a new double opt-in; confirming lifts the suppression.
    confirmed_subscriber(seeded, client, "ada@example.org")
    assert subscriber_state(seeded, "ada@example.org")["status"] == "confirmed"
    with seeded.app_context():
        assert db.session.scalar(select(SuppressedAddress)) is None


def test_list_mail_still_queued_when_its_recipient_unsubscribes_is_withheld_at_send_time(seeded):
    from portal.mail.tasks import deliver_emails

    client = seeded.test_client()
    subscriber_id = confirmed_subscriber(seeded, client, "ada@example.org")
    token = token_for(seeded, "newsletter-unsubscribe", subscriber_id)
    client.post(f"/newsletter/unsubscribe/{token}", data={"List-Unsubscribe": "One-Click"})
    with seeded.app_context():
        ids = list(db.session.scalars(select(OutgoingEmail.id).order_by(OutgoingEmail.id)))
        deliver_emails(ids)
        rows = {row.name: (row.status, row.last_error) for row in db.session.scalars(select(OutgoingEmail))}
    assert rows["newsletter_confirm"] == ("sent", None)
    assert rows["newsletter_welcome"] == ("withheld", "the subscriber unsubscribed")


def test_a_pending_signup_of_an_erased_address_from_the_page_sends_a_new_confirmation_request(seeded):
    client = seeded.test_client()
    subscriber_id = confirmed_subscriber(seeded, client, "ada@example.org")
    path, csrf = _preferences(client, seeded, subscriber_id)
    client.post(path + "/erase", data={"csrf_token": csrf})
    signup(client, "ada@example.org")
    assert decide_requests(seeded) == ["confirmation_sent"]
