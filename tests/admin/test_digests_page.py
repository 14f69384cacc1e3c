"""The digests page: editions with their counts, a dry run, starting an edition, one subscriber's preview."""
import html
import re
import time
from datetime import date

from itsdangerous.timed import TimestampSigner
from sqlalchemy import select, update

from portal.admin.models import AuditEvent
from portal.database import utcnow
from portal.digests import service
from portal.digests.models import DigestDelivery
from portal.extensions import db
from portal.mail.models import OutgoingEmail
from portal.newsletter.models import Subscriber
from portal.resources.models import Resource
from tests.support.admin import ADMIN_EMAIL, csrf_of
from tests.support.digests import add_subscribers, compose_whole_edition, editions
from tests.support.mail import outbox
from tests.support.web import page_text

MONDAY = date(2026, 11, 23)


def _text(response) -> str:
    return html.unescape(page_text(response))


def _post(client, path: str, **data):
    token = csrf_of(client, "/admin/digests")
    return client.post(path, data={"csrf_token": token, **data})


def _audit(app) -> list[tuple[str, dict]]:
    with app.app_context():
        rows = db.session.execute(select(AuditEvent.action, AuditEvent.detail)
                                  .where(AuditEvent.action.like("digest%")).order_by(AuditEvent.id))
        return [tuple(row) for row in rows]


def test_staff_get_403_on_the_digests_page_and_its_buttons(seeded, staff_client):
    add_subscribers(seeded, 1)
    assert staff_client.get("/admin/digests").status_code == 403
    token = csrf_of(staff_client, "/admin/")
    for path, data in (("/admin/digests/count", {"frequency": "weekly"}),
                       ("/admin/digests/send", {"frequency": "weekly"}),
                       ("/admin/digests/preview", {"email": "person0@example.org"})):
        assert staff_client.post(path, data={"csrf_token": token, **data}).status_code == 403, path
    assert editions(seeded) == [] and outbox(seeded) == []


def test_an_edition_is_listed_with_its_counts_refreshed_from_the_outbox(seeded, admin_client):
    add_subscribers(seeded, 3)
    edition_id = compose_whole_edition(seeded, day=MONDAY)
    with seeded.app_context():
        email_ids = db.session.scalars(select(DigestDelivery.email_id).where(DigestDelivery.edition_id == edition_id)
                                       .order_by(DigestDelivery.id)).all()
        db.session.execute(update(OutgoingEmail).where(OutgoingEmail.id == email_ids[0]).values(status="sent"))
        db.session.execute(update(OutgoingEmail).where(OutgoingEmail.id == email_ids[1]).values(status="failed"))
        db.session.commit()
    page = admin_client.get("/admin/digests")
    assert page.status_code == 200
    # Edition, frequency, status, planned, skipped, sent, failed, withheld: one still queued, so still sending.
    assert "Weekly digest, week of 23 November 2026 Weekly Sending 3 0 1 1 0" in page_text(page)
    with seeded.app_context():
        assert (service.get_edition(edition_id).sent, service.get_edition(edition_id).failed) == (1, 1)


def test_count_now_shows_the_counts_and_writes_nothing(seeded, admin_client):
    add_subscribers(seeded, 3)
    add_subscribers(seeded, 1, start=3, frequency="monthly")
    response = _post(admin_client, "/admin/digests/count", frequency="weekly")
    assert response.status_code == 200
    text = _text(response)
    assert "3 would get a digest, 0 would be skipped" in text
    assert f"Highlights per digest Highlights Digests {seeded.config['DIGEST_HIGHLIGHTS']} 3" in text
    assert editions(seeded) == [] and outbox(seeded) == [] and _audit(seeded) == []


def test_send_now_starts_one_edition_and_a_second_press_starts_none(seeded, admin_client):
    add_subscribers(seeded, 2)
    first = _post(admin_client, "/admin/digests/send", frequency="weekly")
    assert first.status_code == 303
    started = editions(seeded)
    assert len(started) == 1 and started[0].frequency == "weekly"
    assert "started" in _text(admin_client.get(first.headers["Location"]))
    second = _post(admin_client, "/admin/digests/send", frequency="weekly")
    assert second.status_code == 303
    again = _text(admin_client.get(second.headers["Location"]))
    assert "This week's edition already exists (status composing)" in again
    assert [e.id for e in editions(seeded)] == [started[0].id]
    assert _audit(seeded) == [("digest_start", {"edition": started[0].id, "created": True}),
                              ("digest_start", {"edition": started[0].id, "created": False})]


def test_a_tampered_frequency_is_refused_with_400(seeded, admin_client):
    add_subscribers(seeded, 1)
    for path in ("/admin/digests/count", "/admin/digests/send"):
        for data in ({"frequency": "daily"}, {"frequency": ""}, {}):
            assert _post(admin_client, path, **data).status_code == 400, (path, data)
    assert editions(seeded) == [] and _audit(seeded) == []


def test_a_preview_shows_the_subscribers_subject_highlights_and_text(seeded, admin_client, monkeypatch):
    # The links' tokens carry the second they were signed: both renders must sign in the same one.
    now = int(time.time())
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda signer: now)
    reader, = add_subscribers(seeded, 1, topics=("journals",))
    with seeded.app_context():
        expected = service.preview_digest(reader)
    response = _post(admin_client, "/admin/digests/preview", email="  Person0@Example.ORG ")
    assert response.status_code == 200
    text = _text(response)
    assert expected.subject in text
    assert all(highlight.title in text for highlight in expected.highlights)
    body = re.search(r'<pre class="admin-mail-text">(.*?)</pre>', response.get_data(as_text=True), re.S).group(1)
    assert html.unescape(body) == expected.text
    assert editions(seeded) == [] and outbox(seeded) == []


def test_a_preview_with_nothing_new_says_so(seeded, admin_client):
    add_subscribers(seeded, 1)
    with seeded.app_context():
        db.session.execute(update(Resource).values(retired_at=utcnow()))
        db.session.commit()
    response = _post(admin_client, "/admin/digests/preview", email="person0@example.org")
    assert response.status_code == 200
    assert "Nothing new for this subscriber" in _text(response)


def test_an_address_that_is_no_confirmed_subscriber_is_a_field_error(seeded, admin_client):
    pending, = add_subscribers(seeded, 1)
    with seeded.app_context():
        db.session.execute(update(Subscriber).where(Subscriber.id == pending).values(status="pending"))
        db.session.commit()
    for address in ("nobody@example.org", "person0@example.org"):
        response = _post(admin_client, "/admin/digests/preview", email=address)
        assert response.status_code == 400, address
        error = re.search(r'id="email-error">(.*?)</p>', response.get_data(as_text=True)).group(1)
        assert "No confirmed subscriber has this address." in error


def test_every_preview_look_up_of_a_subscriber_is_audited_found_or_not(seeded, admin_client):
    reader, = add_subscribers(seeded, 1)
    assert _post(admin_client, "/admin/digests/preview", email="person0@example.org").status_code == 200
    assert _post(admin_client, "/admin/digests/preview", email="nobody@example.org").status_code == 400
    with seeded.app_context():
        rows = db.session.execute(select(AuditEvent.actor_email, AuditEvent.target, AuditEvent.detail)
                                  .where(AuditEvent.action == "digest_preview").order_by(AuditEvent.id)).all()
    assert [tuple(row) for row in rows] == [
        (ADMIN_EMAIL, f"subscriber {reader}", {"found": True}),
        (ADMIN_EMAIL, "", {"found": False}),
    ]


def test_a_looked_up_subscriber_shows_whether_their_address_bounced(seeded, admin_client):
    from portal.deliverability.models import DeliveryEvent, MailSuppression

    reader, bounced = add_subscribers(seeded, 2)
    with seeded.app_context():
        db.session.execute(update(Subscriber).where(Subscriber.id == bounced).values(status="bounced"))
        event = DeliveryEvent(kind="complaint", address_key="person1@example.org", source="arf")
        db.session.add(event)
        db.session.flush()
        db.session.add(MailSuppression(address_key="person1@example.org", reason="complaint", event_id=event.id))
        db.session.commit()
    found = _text(_post(admin_client, "/admin/digests/preview", email="person0@example.org"))
    assert "Subscriber Confirmed Mail delivery No bounce or complaint recorded" in found
    response = _post(admin_client, "/admin/digests/preview", email="Person1@example.org")
    assert response.status_code == 400
    text = _text(response)
    assert "Subscriber Bounced Bulk mail Suppressed since" in text
    assert "(spam complaint): digests and other mailings are withheld." in text
    assert "Last bounce None recorded Last complaint" in text
    nobody = _text(_post(admin_client, "/admin/digests/preview", email="nobody@example.org"))
    assert "Mail delivery" not in nobody and "Subscriber " not in nobody
