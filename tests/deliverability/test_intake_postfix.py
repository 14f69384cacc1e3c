"""Bounces the way they really come back: the portal sends through Postfix, Postfix fails and sends a DSN.

The DSN goes to the message's VERP return path, which Postfix delivers into a
Maildir; the portal reads that Maildir (BOUNCE_MAILDIR) or, in the same tests'
second run, the same Maildir served by Dovecot over IMAP with TLS (BOUNCE_IMAP_URL).
"""
import os
import subprocess
import sys
from urllib.parse import quote

import pytest
from sqlalchemy import select

from portal.database import utcnow
from portal.deliverability.intake import poll_bounce_mailbox
from portal.deliverability.models import DeliveryEvent, MailSuppression
from portal.extensions import db
from portal.mail.message import message_bytes
from portal.mail.models import EmailStatus, Lane, OutgoingEmail
from portal.mail.tasks import deliver_bulk_emails, deliver_emails
from portal.mail.validation import address_key
from portal.mail.verp import verp_address
from portal.newsletter.models import Subscriber
from portal.resources.models import Topic
from portal.resources.service import seed_resources
from tests.support.bounces import (
    BOUNCE_ADDRESS,
    HARD_DOMAIN,
    SOFT_DOMAIN,
    BounceRelay,
    auto_reply,
    feedback_report,
)
from tests.support.digests import compose_whole_edition
from tests.support.dovecot import DovecotServer
from tests.support.mail import GENEROUS, queue_test_email
from tests.support.newsletter import history, subscriber_state
from tests.support.wait import wait_until
from tests.support.worker import ROOT

DEAD = f"dead@{HARD_DOMAIN}"
FULL = f"full@{SOFT_DOMAIN}"
READER = "reader@fine.test"
IMAP_USER, IMAP_PASSWORD = "bounces", "s3cret/@%word"


@pytest.fixture
def relay():
    with BounceRelay() as relay:
        yield relay


@pytest.fixture(params=["maildir", "imap"])
def relayed_app(request, relay, portal_env, make_app, tls_certificate):
    """The portal relaying through Postfix, reading the bounce Maildir directly or through Dovecot (imaps)."""
    portal_env.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=str(relay.port), MAIL_BOUNCE_ADDRESS=BOUNCE_ADDRESS)
    if request.param == "maildir":
        portal_env["BOUNCE_MAILDIR"] = str(relay.maildir)
        yield _seeded(make_app())
        return
    with DovecotServer(relay.maildir, tls_certificate, IMAP_USER, IMAP_PASSWORD) as dovecot:
        portal_env["BOUNCE_IMAP_URL"] = (f"imaps://{IMAP_USER}:{quote(IMAP_PASSWORD, safe='')}"
                                         f"@127.0.0.1:{dovecot.tls_port}/INBOX")
        yield _seeded(make_app(BOUNCE_IMAP_CA_FILE=str(tls_certificate.cert)))


def _seeded(app):
    with app.app_context():
        seed_resources()
        db.session.commit()
    return app


def subscribe(app, *addresses: str) -> None:
    with app.app_context():
        topics = list(db.session.scalars(select(Topic).where(Topic.slug == "regulatory")))
        db.session.add_all(Subscriber(email=address, email_key=address_key(address), status="confirmed",
                                      frequency="weekly", confirmed_at=utcnow(), topics=topics)
                           for address in addresses)
        db.session.commit()


def send(app, to: str) -> int:
    """Queue a message to `to` and deliver it to Postfix, which accepts it; its outbox id."""
    with app.app_context():
        email_id = queue_test_email(to=to).id
        db.session.commit()
        assert deliver_emails([email_id])["sent"] == 1
    return email_id


def poll(app) -> dict:
    with app.app_context():
        result = poll_bounce_mailbox()
    assert result.error is None, result.error
    return result.as_dict()


def suppression(app, address: str) -> str | None:
    with app.app_context():
        return db.session.scalar(select(MailSuppression.reason).where(MailSuppression.address_key == address_key(address)))


def events(app) -> list[tuple]:
    with app.app_context():
        return [tuple(row) for row in db.session.execute(
            select(DeliveryEvent.kind, DeliveryEvent.email_id, DeliveryEvent.source).order_by(DeliveryEvent.id))]


def test_a_hard_bounce_suppresses_the_address_and_withholds_their_next_digest(relayed_app, relay):
    subscribe(relayed_app, DEAD, READER)
    email_id = send(relayed_app, DEAD)
    # Their digest is queued before the report is read: it is stopped at send time.
    edition_id = compose_whole_edition(relayed_app)
    relay.wait_for_inbox(1)

    assert poll(relayed_app)["hard_bounce"] == 1

    assert events(relayed_app) == [("hard_bounce", email_id, "dsn")]
    assert suppression(relayed_app, DEAD) == "hard_bounce"
    dead = subscriber_state(relayed_app, DEAD)
    assert dead["status"] == "bounced"
    assert history(relayed_app, dead["id"])[-1] == "bounced"
    assert relay.inbox() == []
    with relayed_app.app_context():
        digests = dict(db.session.execute(select(OutgoingEmail.to_address, OutgoingEmail.id).where(
            OutgoingEmail.lane == Lane.BULK.value, OutgoingEmail.name.like("digest%"))).all())
        assert set(digests) == {DEAD, READER}, edition_id
        deliver_bulk_emails(list(digests.values()))
        statuses = dict(db.session.execute(select(OutgoingEmail.to_address, OutgoingEmail.status).where(
            OutgoingEmail.id.in_(digests.values()))).all())
    assert statuses == {DEAD: EmailStatus.WITHHELD.value, READER: EmailStatus.SENT.value}
    assert relay.deliveries_to(DEAD) == 1


def test_soft_bounces_suppress_the_address_once_they_reach_the_limit(relayed_app, relay):
    subscribe(relayed_app, FULL)
    first, second = send(relayed_app, FULL), send(relayed_app, FULL)
    relay.wait_for_inbox(2)

    assert poll(relayed_app)["soft_bounce"] == 2
    assert suppression(relayed_app, FULL) is None
    assert subscriber_state(relayed_app, FULL)["status"] == "confirmed"

    third = send(relayed_app, FULL)
    relay.wait_for_inbox(1)
    assert poll(relayed_app)["soft_bounce"] == 1

    # Postfix may return the first two in either order.
    assert sorted(events(relayed_app)) == [("soft_bounce", first, "dsn"), ("soft_bounce", second, "dsn"),
                                          ("soft_bounce", third, "dsn")]
    assert suppression(relayed_app, FULL) == "soft_bounces"
    assert subscriber_state(relayed_app, FULL)["status"] == "bounced"


def test_a_feedback_loop_complaint_unsubscribes_the_reader(relayed_app, relay):
    subscribe(relayed_app, READER)
    email_id = send(relayed_app, READER)
    with relayed_app.app_context():
        original = message_bytes(db.session.get(OutgoingEmail, email_id))
    # Feedback loops report to the address registered with them; the original's Message-ID names the message.
    relay.send("fbl@isp.example", BOUNCE_ADDRESS, feedback_report(original, READER))
    relay.wait_for_inbox(1)

    assert poll(relayed_app)["complaint"] == 1

    assert events(relayed_app) == [("complaint", email_id, "arf")]
    assert suppression(relayed_app, READER) == "complaint"
    reader = subscriber_state(relayed_app, READER)
    assert reader["status"] == "unsubscribed"
    assert history(relayed_app, reader["id"])[-1] == "complaint"


def test_an_unmatched_report_is_filed_and_counted_and_the_poll_goes_on(relayed_app, relay):
    # A DSN about mail the portal never sent: mailed with the bare bounce address as sender.
    relay.send(BOUNCE_ADDRESS, f"someone@{HARD_DOMAIN}",
               b"Message-ID: <not-ours@elsewhere.test>\r\nSubject: not ours\r\n\r\nhello\r\n")
    relay.wait_for_inbox(1)
    email_id = send(relayed_app, DEAD)
    relay.wait_for_inbox(2)

    assert poll(relayed_app) | {"error": None} == {"hard_bounce": 1, "soft_bounce": 0, "complaint": 0, "unmatched": 1,
                                                  "failed": 0, "ignored": 0, "error": None, "busy": False}

    assert relay.inbox() == []
    (filed,) = relay.unmatched()
    assert b"not-ours@elsewhere.test" in filed
    assert ("hard_bounce", email_id, "dsn") in events(relayed_app)
    assert suppression(relayed_app, DEAD) == "hard_bounce"


def test_an_auto_reply_is_deleted_and_records_nothing(relayed_app, relay):
    subscribe(relayed_app, READER)
    email_id = send(relayed_app, READER)
    with relayed_app.app_context():
        return_path = verp_address(email_id)
    relay.send(READER, return_path, auto_reply(return_path))
    relay.wait_for_inbox(1)

    assert poll(relayed_app)["ignored"] == 1

    assert relay.inbox() == [] and relay.unmatched() == []
    assert events(relayed_app) == []
    assert suppression(relayed_app, READER) is None
    assert subscriber_state(relayed_app, READER)["status"] == "confirmed"


def bounce_of(app, relay, address: str) -> bytes:
    """Mail `address`, and the report that comes back: a DSN from Postfix, or a feedback loop's complaint."""
    email_id = send(app, address)
    if address != DEAD:
        with app.app_context():
            original = message_bytes(db.session.get(OutgoingEmail, email_id))
        relay.send("fbl@isp.example", BOUNCE_ADDRESS, feedback_report(original, address))
    (report,) = relay.wait_for_inbox(1)
    return report


@pytest.mark.parametrize("address", [DEAD, READER])
def test_a_report_read_again_after_a_crash_before_its_delete_changes_nothing(relayed_app, relay, address):
    subscribe(relayed_app, address)
    report = bounce_of(relayed_app, relay, address)
    poll(relayed_app)
    assert len(events(relayed_app)) == 1
    before = (events(relayed_app), history(relayed_app, subscriber_state(relayed_app, address)["id"]),
              suppression(relayed_app, address))

    # The state a poller leaves when it dies after its commit and before the delete: the report is still there.
    relay.drop(report)
    poll(relayed_app)

    assert relay.inbox() == []
    after = (events(relayed_app), history(relayed_app, subscriber_state(relayed_app, address)["id"]),
             suppression(relayed_app, address))
    assert after == before


def test_a_poll_killed_midway_loses_no_report_and_records_none_twice(relay, portal_env, make_app):
    portal_env.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=str(relay.port), MAIL_BOUNCE_ADDRESS=BOUNCE_ADDRESS,
                      BOUNCE_MAILDIR=str(relay.maildir))
    app = make_app()
    ids = [send(app, DEAD) for _ in range(100)]
    relay.wait_for_inbox(len(ids))
    poller = subprocess.Popen([sys.executable, "-m", "flask", "--app", "portal", "bounces", "poll"],
                              env={**os.environ, **portal_env}, cwd=ROOT,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: len(events(app)) >= 1, timeout=GENEROUS, interval=0.01, message="the poll's first commits")
    finally:
        poller.kill()
        poller.wait()
    assert 0 < len(relay.inbox()) < len(ids), "the poll was killed after it had finished"

    poll(app)

    assert relay.inbox() == []
    assert sorted(email_id for _kind, email_id, _source in events(app)) == ids
