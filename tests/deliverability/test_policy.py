"""The bounce policy: what a hard bounce, soft bounces and a complaint do to an address and its subscriber."""
from datetime import timedelta

from sqlalchemy import select, update

from portal.admin.models import AdminUser, AuditEvent
from portal.database import utcnow
from portal.deliverability import service
from portal.deliverability.models import DeliveryEvent, DeliveryEventKind
from portal.extensions import db
from portal.mail.validation import address_key
from portal.newsletter.models import Subscriber, SubscriptionEvent
from tests.deliverability.conftest import BOUNCES, sent_mail, suppression_of
from tests.support.admin import add_account
from tests.support.reports import arf_report, out_of_office, postfix_dsn


def _subscriber(app, email: str, status: str = "confirmed") -> int:
    with app.app_context():
        subscriber = Subscriber(email=email, email_key=address_key(email), status=status, confirmed_at=utcnow())
        db.session.add(subscriber)
        db.session.commit()
        return subscriber.id


def _process(app, raw: bytes):
    with app.app_context():
        kind = service.process_report(raw)
        db.session.commit()
        return kind


def _history(app, subscriber_id: int) -> list[tuple[str, str | None]]:
    with app.app_context():
        return list(db.session.execute(
            select(SubscriptionEvent.kind, SubscriptionEvent.source)
            .where(SubscriptionEvent.subscriber_id == subscriber_id).order_by(SubscriptionEvent.id)).tuples())


def _status(app, subscriber_id: int) -> str:
    with app.app_context():
        return db.session.get(Subscriber, subscriber_id).status


def _events(app) -> list[tuple[str, int | None, str | None, str]]:
    with app.app_context():
        return list(db.session.execute(
            select(DeliveryEvent.kind, DeliveryEvent.email_id, DeliveryEvent.address_key, DeliveryEvent.source)
            .order_by(DeliveryEvent.id)).tuples())


def _soft_bounce(app, email: str) -> DeliveryEventKind:
    mail = sent_mail(app, email)
    return _process(app, postfix_dsn(mail.verp, email, status="4.2.2", diagnostic="452 4.2.2 Mailbox full"))


def test_a_hard_bounce_suppresses_the_address_and_marks_the_subscriber_bounced(bounce_app):
    subscriber_id = _subscriber(bounce_app, "Gone@Example.org")
    mail = sent_mail(bounce_app, "Gone@Example.org")
    assert _process(bounce_app, postfix_dsn(mail.verp, "Gone@Example.org")) is DeliveryEventKind.HARD_BOUNCE
    assert suppression_of(bounce_app, "gone@example.org") == "hard_bounce"
    assert _status(bounce_app, subscriber_id) == "bounced"
    assert _history(bounce_app, subscriber_id) == [("bounced", "dsn")]
    assert _events(bounce_app) == [("hard_bounce", mail.id, "gone@example.org", "dsn")]


def test_soft_bounces_below_the_limit_do_not_suppress(bounce_app):
    subscriber_id = _subscriber(bounce_app, "full@example.org")
    for _ in range(bounce_app.config["BOUNCE_SOFT_LIMIT"] - 1):
        assert _soft_bounce(bounce_app, "full@example.org") is DeliveryEventKind.SOFT_BOUNCE
    assert suppression_of(bounce_app, "full@example.org") is None
    assert _status(bounce_app, subscriber_id) == "confirmed"


def test_soft_bounces_reaching_the_limit_within_the_window_suppress(bounce_env, make_app):
    bounce_env["BOUNCE_SOFT_LIMIT"] = "2"
    app = make_app()
    subscriber_id = _subscriber(app, "full@example.org")
    _soft_bounce(app, "full@example.org")
    _soft_bounce(app, "full@example.org")
    assert suppression_of(app, "full@example.org") == "soft_bounces"
    assert _status(app, subscriber_id) == "bounced"
    assert _history(app, subscriber_id) == [("bounced", "dsn")]


def test_soft_bounces_older_than_the_window_do_not_count(bounce_env, make_app):
    bounce_env["BOUNCE_SOFT_LIMIT"] = "2"
    bounce_env["BOUNCE_SOFT_WINDOW_DAYS"] = "14"
    app = make_app()
    _soft_bounce(app, "full@example.org")
    with app.app_context():
        db.session.execute(update(DeliveryEvent).values(created_at=utcnow() - timedelta(days=15)))
        db.session.commit()
    _soft_bounce(app, "full@example.org")
    assert suppression_of(app, "full@example.org") is None
    _soft_bounce(app, "full@example.org")
    assert suppression_of(app, "full@example.org") == "soft_bounces"


def test_the_same_soft_bounce_reported_twice_counts_once(bounce_env, make_app):
    bounce_env["BOUNCE_SOFT_LIMIT"] = "2"
    app = make_app()
    mail = sent_mail(app, "full@example.org")
    report = postfix_dsn(mail.verp, "full@example.org", status="4.2.2", diagnostic="452 4.2.2 Mailbox full")
    _process(app, report)
    _process(app, report)
    assert suppression_of(app, "full@example.org") is None


def test_a_complaint_unsubscribes_and_suppresses_the_address(bounce_app):
    subscriber_id = _subscriber(bounce_app, "ada@example.org")
    mail = sent_mail(bounce_app, "ada@example.org")
    kind = _process(bounce_app, arf_report("fbl@news.example.org", "ada@example.org", mail.message_id))
    assert kind is DeliveryEventKind.COMPLAINT
    assert suppression_of(bounce_app, "ada@example.org") == "complaint"
    assert _status(bounce_app, subscriber_id) == "unsubscribed"
    assert _history(bounce_app, subscriber_id) == [("complaint", "arf")]


def test_an_unsubscribed_subscriber_stays_unsubscribed_after_a_hard_bounce(bounce_app):
    subscriber_id = _subscriber(bounce_app, "gone@example.org", status="unsubscribed")
    mail = sent_mail(bounce_app, "gone@example.org")
    _process(bounce_app, postfix_dsn(mail.verp, "gone@example.org"))
    assert _status(bounce_app, subscriber_id) == "unsubscribed"
    assert suppression_of(bounce_app, "gone@example.org") == "hard_bounce"


def test_a_report_matching_no_message_is_recorded_unmatched_and_changes_nothing(bounce_app):
    subscriber_id = _subscriber(bounce_app, "ada@example.org")
    sent_mail(bounce_app, "ada@example.org")
    assert _process(bounce_app, postfix_dsn(BOUNCES, "ada@example.org", message_id="<unknown@example.org>")) \
        is DeliveryEventKind.UNMATCHED
    assert _events(bounce_app) == [("unmatched", None, "ada@example.org", "dsn")]
    assert suppression_of(bounce_app, "ada@example.org") is None
    assert _status(bounce_app, subscriber_id) == "confirmed"


def test_a_report_with_raw_8bit_fields_is_recorded(bounce_app):
    # A remote server answered in its own language, and the reporting MTA copied the bytes as they came.
    mail = sent_mail(bounce_app, "gone@example.org")
    raw = postfix_dsn(mail.verp, "gone@example.org", diagnostic="550 5.1.1 Postfach unbekannt: NAME")
    assert _process(bounce_app, raw.replace(b"NAME", "Müller".encode())) is DeliveryEventKind.HARD_BOUNCE
    with bounce_app.app_context():
        diagnostic = db.session.scalar(select(DeliveryEvent.diagnostic))
    assert diagnostic.startswith("550 5.1.1 Postfach unbekannt: M")


def test_an_unreadable_message_is_recorded_unmatched(bounce_app):
    assert _process(bounce_app, b"\x8f\xff\x00 not a message at all \x00\x01") is DeliveryEventKind.UNMATCHED
    assert _events(bounce_app) == [("unmatched", None, None, "other")]


def test_an_out_of_office_reply_records_nothing(bounce_app):
    mail = sent_mail(bounce_app, "ada@example.org")
    assert _process(bounce_app, out_of_office(mail.verp)) is None
    assert _events(bounce_app) == []


def test_clearing_a_suppression_is_audited_and_leaves_the_subscriber_bounced(bounce_app):
    subscriber_id = _subscriber(bounce_app, "gone@example.org")
    mail = sent_mail(bounce_app, "gone@example.org")
    _process(bounce_app, postfix_dsn(mail.verp, "gone@example.org"))
    admin_id = add_account(bounce_app, "admin@example.org")
    with bounce_app.app_context():
        assert service.clear_suppression("gone@example.org", db.session.get(AdminUser, admin_id)) is True
        db.session.commit()
        audit = db.session.scalars(select(AuditEvent)).all()
        assert [(a.action, a.target, a.actor_email, a.detail["reason"]) for a in audit] == [
            ("suppression_clear", "gone@example.org", "admin@example.org", "hard_bounce")]
        assert service.clear_suppression("gone@example.org", db.session.get(AdminUser, admin_id)) is False
    assert suppression_of(bounce_app, "gone@example.org") is None
    assert _status(bounce_app, subscriber_id) == "bounced"


def test_address_state_shows_the_suppression_and_latest_events(bounce_app):
    mail = sent_mail(bounce_app, "gone@example.org")
    _process(bounce_app, postfix_dsn(mail.verp, "gone@example.org"))
    with bounce_app.app_context():
        state = service.address_state("Gone@example.org")
        assert (state.reason, [event.kind for event in state.events]) == ("hard bounce", ["hard_bounce"])
        assert service.address_state("ada@example.org") is None


def test_the_suppression_list_is_searched_and_paged_newest_first(bounce_app, monkeypatch):
    monkeypatch.setattr(service, "SUPPRESSIONS_PAGE_SIZE", 2)
    for name in ("ann", "bob", "bea"):
        mail = sent_mail(bounce_app, f"{name}@example.org")
        _process(bounce_app, postfix_dsn(mail.verp, f"{name}@example.org"))
    with bounce_app.app_context():
        first = service.suppressions()
        assert [entry.address_key for entry in first] == ["bea@example.org", "bob@example.org"]
        assert [e.address_key for e in service.suppressions(before_id=first[-1].id)] == ["ann@example.org"]
        assert [e.address_key for e in service.suppressions(search="B")] == ["bea@example.org", "bob@example.org"]
        assert service.suppressions(search="%") == []
