"""A subscriber whose address bounced: no more newsletter until a fresh double opt-in proves it works."""
from sqlalchemy import select

from portal.deliverability import service as deliverability
from portal.deliverability.models import DeliveryEvent, MailSuppression
from portal.extensions import db
from portal.mail.models import OutgoingEmail
from portal.newsletter import service
from portal.newsletter.models import Subscriber
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
from tests.support.reports import arf_report, postfix_dsn
from tests.support.web import csrf_token_from

BOUNCES = "bounces@news.example.org"


def _report_on_last_mail(app, email: str, build) -> None:
    """A report about the latest message to `email`, matched by its Message-ID as a feedback loop's would be."""
    with app.app_context():
        message_id = db.session.scalar(select(OutgoingEmail.message_id).where(OutgoingEmail.to_address == email)
                                       .order_by(OutgoingEmail.id.desc()).limit(1))
        assert deliverability.process_report(build(message_id)) is not None
        db.session.commit()


def _hard_bounce(app, email: str) -> None:
    _report_on_last_mail(app, email, lambda message_id: postfix_dsn(BOUNCES, email, message_id=message_id))


def _suppressed(app, email: str) -> bool:
    with app.app_context():
        return db.session.scalar(select(MailSuppression.id).where(MailSuppression.address_key == email)) is not None


def _confirm_through_the_latest_link(app, client, email: str):
    confirm_mail = [m for m in outbox(app, "newsletter_confirm") if m.to == email][-1]
    path = local_path(links_in(confirm_mail.text)["confirm"])
    page = client.get(path)
    return client.post(path, data={"csrf_token": csrf_token_from(page.get_data(as_text=True))})


def test_a_bounced_subscriber_who_signs_up_again_and_confirms_is_confirmed_and_unsuppressed(seeded):
    client = seeded.test_client()
    subscriber_id = confirmed_subscriber(seeded, client, "ada@example.org")
    _hard_bounce(seeded, "ada@example.org")
    assert subscriber_state(seeded, "ada@example.org")["status"] == "bounced"
    assert _suppressed(seeded, "ada@example.org")
    signup(client, email="ada@example.org")
    decide_requests(seeded)
    assert subscriber_state(seeded, "ada@example.org")["status"] == "pending"
    _confirm_through_the_latest_link(seeded, client, "ada@example.org")
    assert subscriber_state(seeded, "ada@example.org")["status"] == "confirmed"
    assert not _suppressed(seeded, "ada@example.org")
    assert history(seeded, subscriber_id)[3:] == ["bounced", "signup", "confirmation_sent", "confirmed"]


def _preferences(app, client, subscriber_id: int):
    path = f"/newsletter/preferences/{token_for(app, 'newsletter-preferences', subscriber_id)}"
    page = client.get(path)
    return path, page.get_data(as_text=True), csrf_token_from(page.get_data(as_text=True))


def test_the_preference_page_of_a_bounced_subscriber_sends_a_fresh_confirmation(seeded):
    client = seeded.test_client()
    subscriber_id = confirmed_subscriber(seeded, client, "ada@example.org")
    _hard_bounce(seeded, "ada@example.org")
    path, html, csrf = _preferences(seeded, client, subscriber_id)
    assert "Mail to this address bounced," in html
    confirmations = len(outbox(seeded, "newsletter_confirm"))
    client.post(f"{path}/resubscribe", data={"csrf_token": csrf})
    assert "We have emailed you a confirmation link" in client.get(path).get_data(as_text=True)
    assert subscriber_state(seeded, "ada@example.org")["status"] == "pending"
    assert len(outbox(seeded, "newsletter_confirm")) == confirmations + 1
    assert _suppressed(seeded, "ada@example.org")
    _confirm_through_the_latest_link(seeded, client, "ada@example.org")
    assert subscriber_state(seeded, "ada@example.org")["status"] == "confirmed"
    assert not _suppressed(seeded, "ada@example.org")


def test_an_old_confirmation_link_does_not_revive_a_bounced_subscriber(seeded):
    client = seeded.test_client()
    signup(client, email="ada@example.org")
    decide_requests(seeded)
    _hard_bounce(seeded, "ada@example.org")
    assert subscriber_state(seeded, "ada@example.org")["status"] == "bounced"
    confirm_mail = [m for m in outbox(seeded, "newsletter_confirm") if m.to == "ada@example.org"][-1]
    page = client.get(local_path(links_in(confirm_mail.text)["confirm"])).get_data(as_text=True)
    assert "Mail to this address has bounced since this link was sent" in page
    response = _confirm_through_the_latest_link(seeded, client, "ada@example.org")
    assert subscriber_state(seeded, "ada@example.org")["status"] == "bounced"
    assert "ask for a new confirmation link below" in client.get(response.location).get_data(as_text=True)


def test_resubscribing_after_a_spam_complaint_lifts_the_suppression(seeded):
    client = seeded.test_client()
    subscriber_id = confirmed_subscriber(seeded, client, "ada@example.org")
    _report_on_last_mail(seeded, "ada@example.org",
                         lambda message_id: arf_report(BOUNCES, "ada@example.org", message_id))
    assert subscriber_state(seeded, "ada@example.org")["status"] == "unsubscribed"
    path, _, csrf = _preferences(seeded, client, subscriber_id)
    client.post(f"{path}/resubscribe", data={"csrf_token": csrf})
    assert subscriber_state(seeded, "ada@example.org")["status"] == "confirmed"
    assert not _suppressed(seeded, "ada@example.org")


def test_erasure_removes_the_address_from_the_bounce_records(seeded):
    client = seeded.test_client()
    subscriber_id = confirmed_subscriber(seeded, client, "ada@example.org")
    _hard_bounce(seeded, "ada@example.org")
    with seeded.app_context():
        exported = service.export_subscriber_data(db.session.get(Subscriber, subscriber_id))
        assert exported["deliverability"]["suppressed"]["reason"] == "hard_bounce"
        assert [event["kind"] for event in exported["deliverability"]["events"]] == ["hard_bounce"]
        service.erase_subscriber(db.session.get(Subscriber, subscriber_id))
        db.session.commit()
        assert db.session.scalars(select(MailSuppression)).all() == []
        assert list(db.session.execute(select(DeliveryEvent.kind, DeliveryEvent.address_key,
                                              DeliveryEvent.diagnostic)).tuples()) == [("hard_bounce", None, None)]
