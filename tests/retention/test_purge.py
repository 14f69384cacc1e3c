"""The daily purge applies every period: anonymised registrations still add up, the rest goes, twice is harmless."""
import threading
from datetime import date, timedelta

import pytest
from celery.schedules import crontab
from sqlalchemy import func, select, update

from portal.admin.dashboard import registration_figures
from portal.admin.models import AdminSession, AdminUser, AuditEvent
from portal.consent.models import ConsentEvent, PageView
from portal.database import utcnow
from portal.deferred.models import DeferredRequest
from portal.deliverability.models import DeliveryEvent, MailSuppression
from portal.extensions import db
from portal.mail.models import EmailStatus, OutgoingEmail, OutgoingEmailAttachment
from portal.newsletter.models import Subscriber, SubscriptionEvent
from portal.registration.models import CheckIn, Event, EventDay, Registration
from portal.retention.service import ANONYMISED_ADDRESS, PURGE_ACTION
from portal.retention.tasks import purge
from tests.support.wait import wait_until
from tests.support.worker import start_beat, start_worker

_numbers = iter(range(1, 100_000))


def _figures(event_id: int):
    """What the admin dashboard shows for an event, as plain values."""
    figures = registration_figures(db.session.get(Event, event_id))
    return (figures.by_status, [(d.confirmed, d.waitlisted, d.checked_in) for d in figures.days],
            [(c.by_status, c.checked_in) for c in figures.categories], figures.per_day)


@pytest.fixture
def past_event(app, make_event, make_registration):
    """An event whose last day was two years ago, with three registrations and one check-in."""
    slug = make_event()
    make_registration(slug, email="ada@example.org", dietary="Vegan", accessibility="Step-free access")
    make_registration(slug, email="grace@example.org", first_name="Grace", last_name="Hopper")
    make_registration(slug, email="alan@example.org", first_name="Alan", last_name="Turing", days="1")
    with app.app_context():
        event = db.session.scalars(select(Event).where(Event.slug == slug)).one()
        first = db.session.scalars(select(Registration).where(Registration.event_id == event.id)).first()
        db.session.add(CheckIn(registration_id=first.id, event_day_id=event.days[0].id))
        for offset, day in enumerate(event.days):
            day.date = date.today() - timedelta(days=730) + timedelta(days=offset)
        db.session.commit()
        return event.id


def _email(status=EmailStatus.SENT.value, age_days=0, cause=None, attachment=False) -> OutgoingEmail:
    number = next(_numbers)
    email = OutgoingEmail(
        name="test_message", to_address=f"person{number}@example.org", from_address="summit@example.org",
        subject="Your seat", body_text="Dear Ada", body_html="<p>Dear Ada</p>", headers={"X-Test": "1"},
        message_id=f"<{number}.retention@test>", status=status, created_at=utcnow() - timedelta(days=age_days),
        cause_kind=cause[0] if cause else None, cause_id=cause[1] if cause else None,
    )
    if attachment:
        email.attachments.append(OutgoingEmailAttachment(filename="invite.ics", content_type="text/calendar",
                                                         data=b"BEGIN:VCALENDAR"))
    db.session.add(email)
    return email


def test_an_ended_event_is_anonymised_and_its_dashboard_counts_stay(app, past_event):
    with app.app_context():
        before = _figures(past_event)
        purge()
        rows = db.session.scalars(select(Registration).where(Registration.event_id == past_event)).all()
        assert len(rows) == 3
        for row in rows:
            assert (row.first_name, row.last_name, row.email, row.organization, row.job_title, row.dietary,
                    row.accessibility) == ("", "", "", "", "", "", "")
            assert "@" not in row.email_key
        assert db.session.scalar(select(func.count(CheckIn.id))) == 1
        assert _figures(past_event) == before


def test_mail_about_an_anonymised_registration_loses_its_address_and_content(app, past_event):
    with app.app_context():
        mail = db.session.scalars(select(OutgoingEmail).where(OutgoingEmail.cause_kind == "registration")).all()
        assert mail
        purge()
        db.session.expire_all()
        for email in mail:
            assert (email.to_address, email.subject, email.body_text, email.body_html) == (ANONYMISED_ADDRESS, "", "", "")
            assert email.status != EmailStatus.QUEUED.value


def test_a_registration_within_its_period_is_kept(app, past_event):
    with app.app_context():
        db.session.execute(update(EventDay).where(EventDay.event_id == past_event)
                           .values(date=date.today() - timedelta(days=300)))
        db.session.commit()
        assert purge()["registration"] == 0
        emails = db.session.scalars(select(Registration.email).where(Registration.event_id == past_event)).all()
        assert "ada@example.org" in emails


def test_a_shorter_period_setting_reaches_the_event_sooner(make_app, portal_env, make_event, make_registration):
    portal_env["RETENTION_REGISTRATION_DAYS"] = "30"
    app = make_app()
    from tests.support.registration import add_registration, new_event

    slug = new_event(app)
    add_registration(app, slug)
    with app.app_context():
        event = db.session.scalars(select(Event).where(Event.slug == slug)).one()
        db.session.execute(update(EventDay).where(EventDay.event_id == event.id)
                           .values(date=date.today() - timedelta(days=40)))
        db.session.commit()
        assert purge()["registration"] == 1


def test_the_dry_run_prints_per_kind_what_the_purge_then_does(app, past_event):
    runner = app.test_cli_runner()
    dry = runner.invoke(args=["purge", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "registration: 3 would be anonymised" in dry.output
    with app.app_context():
        assert db.session.scalar(select(func.count()).where(Registration.email != "")) == 3
        assert db.session.scalar(select(func.count(AuditEvent.id)).where(AuditEvent.action == PURGE_ACTION)) == 0
    real = runner.invoke(args=["purge"])
    assert real.exit_code == 0, real.output
    assert "registration: 3 anonymised" in real.output
    assert "registration: 0 would be anonymised" in runner.invoke(args=["purge", "--dry-run"]).output


def test_each_real_run_writes_one_audit_event_with_its_counts(app, past_event):
    with app.app_context():
        purge()
        purge()
        runs = db.session.scalars(select(AuditEvent).where(AuditEvent.action == PURGE_ACTION)
                                  .order_by(AuditEvent.id)).all()
        assert [run.detail["registration"] for run in runs] == [3, 0]


def test_mail_bodies_go_after_their_period_and_the_delivery_record_stays(app):
    with app.app_context():
        old = _email(age_days=100, attachment=True)
        recent = _email(age_days=10)
        waiting = _email(status=EmailStatus.QUEUED.value, age_days=100)
        db.session.commit()
        counts = purge()
        db.session.expire_all()
        assert counts["mail_body"] == 1
        assert (old.subject, old.body_text, old.body_html, old.headers, old.attachments) == ("", "", "", {}, [])
        assert (old.status, old.to_address) == (EmailStatus.SENT.value, old.to_address)
        assert recent.body_text == "Dear Ada" and waiting.body_text == "Dear Ada"


def test_delivery_records_go_after_their_period_but_never_mail_still_waiting(app):
    with app.app_context():
        old = _email(age_days=400, attachment=True)
        waiting = _email(status=EmailStatus.QUEUED.value, age_days=400)
        recent = _email(age_days=10)
        db.session.commit()
        kept = {waiting.id, recent.id}
        assert purge()["mail_record"] == 1
        assert set(db.session.scalars(select(OutgoingEmail.id))) == kept
        assert db.session.scalar(select(func.count(OutgoingEmailAttachment.id))) == 0


def test_the_rest_is_deleted_after_its_period(app):
    old, recent = utcnow() - timedelta(days=2000), utcnow() - timedelta(days=1)
    with app.app_context():
        admin = AdminUser(email="staff@example.org", password_hash="x")
        db.session.add(admin)
        db.session.flush()
        pending_old = Subscriber(email="old@example.org", email_key="old@example.org", status="pending", created_at=old)
        pending_new = Subscriber(email="new@example.org", email_key="new@example.org", status="pending")
        gone = Subscriber(email="gone@example.org", email_key="gone@example.org", status="unsubscribed",
                          created_at=old, confirmed_at=old, unsubscribed_at=old)
        db.session.add_all([pending_old, pending_new, gone])
        db.session.flush()
        for when in (old, recent):
            db.session.add_all([
                DeferredRequest(kind="newsletter.signup", email="x@example.org", email_key="x@example.org",
                                created_at=when),
                ConsentEvent(consent_id=f"c-{when:%Y}", created_at=when, policy_version="1", granted=[], denied=[],
                             action="reject_all", gpc=False, language="en"),
                PageView(path="/", new_visit=True, created_at=when),
                AdminSession(token=f"t-{when:%Y}", admin_id=admin.id, created_at=when, last_seen_at=when),
                AuditEvent(actor_email="staff@example.org", action="login", created_at=when),
                DeliveryEvent(kind="hard_bounce", address_key=f"b{when:%Y}@example.org", source="dsn", created_at=when),
                MailSuppression(address_key=f"s{when:%Y}@example.org", reason="hard_bounce", created_at=when),
            ])
        db.session.add(SubscriptionEvent(subscriber_id=gone.id, kind="unsubscribed", created_at=old))
        db.session.commit()
        counts = purge()
        assert {kind: counts[kind] for kind in (
            "deferred_request", "consent_log", "page_view", "admin_session", "audit_event", "bounce", "suppression",
            "unconfirmed_signup", "subscription_history")} == dict.fromkeys((
                "deferred_request", "consent_log", "page_view", "admin_session", "audit_event", "bounce",
                "suppression", "unconfirmed_signup", "subscription_history"), 1)
        for model in (DeferredRequest, ConsentEvent, PageView, AdminSession, DeliveryEvent, MailSuppression):
            assert db.session.scalar(select(func.count()).select_from(model)) == 1, model.__name__
        emails = set(db.session.scalars(select(Subscriber.email)))
        assert emails == {"new@example.org", "gone@example.org"}
        assert db.session.scalar(select(func.count(SubscriptionEvent.id))) == 0


def test_batches_cover_every_row(make_app, portal_env):
    portal_env["RETENTION_PURGE_BATCH"] = "2"
    app = make_app()
    with app.app_context():
        for _ in range(5):
            db.session.add(PageView(path="/", new_visit=False, created_at=utcnow() - timedelta(days=400)))
        db.session.commit()
        assert purge()["page_view"] == 5
        assert db.session.scalar(select(func.count(PageView.id))) == 0


def test_two_runs_at_once_change_every_row_once(app, past_event):
    with app.app_context():
        for _ in range(30):
            db.session.add(PageView(path="/", new_visit=False, created_at=utcnow() - timedelta(days=400)))
        db.session.commit()
    results, errors = [], []

    def run():
        try:
            with app.app_context():
                results.append(purge())
        except Exception as exc:  # reported below; a thread's exception would otherwise vanish
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    assert sum(r["page_view"] for r in results) == 30
    assert sum(r["registration"] for r in results) == 3
    with app.app_context():
        assert db.session.scalar(select(func.count(PageView.id))) == 0
        assert db.session.scalar(select(func.count(AuditEvent.id)).where(AuditEvent.action == PURGE_ACTION)) == 2


def test_beat_runs_the_purge_daily_at_night(app):
    entry = app.extensions["celery"].conf.beat_schedule["retention-purge"]
    assert entry["task"] == "portal.retention.purge"
    assert entry["schedule"] == crontab(minute="30", hour="3")


def test_beat_and_a_worker_anonymise_an_ended_event(make_app, portal_env, make_event, make_registration, tmp_path):
    """The real processes: beat fires the purge at its next minute, a worker runs it."""
    portal_env["RETENTION_PURGE_CRON"] = "* * * * *"
    app = make_app()
    from tests.support.registration import add_registration, new_event

    slug = new_event(app)
    add_registration(app, slug)
    with app.app_context():
        event_id = db.session.scalars(select(Event.id).where(Event.slug == slug)).one()
        db.session.execute(update(EventDay).where(EventDay.event_id == event_id)
                           .values(date=date.today() - timedelta(days=400)))
        db.session.commit()
        before = _figures(event_id)
    worker, beat = start_worker(portal_env, tmp_path), start_beat(portal_env, tmp_path)
    try:
        def purge_ran():
            with app.app_context():
                return db.session.scalar(select(func.count(AuditEvent.id)).where(AuditEvent.action == PURGE_ACTION))

        wait_until(purge_ran, timeout=120, message="a purge run by beat and the worker")
    finally:
        beat.stop()
        worker.stop()
    with app.app_context():
        row = db.session.scalars(select(Registration).where(Registration.event_id == event_id)).one()
        assert (row.first_name, row.last_name, row.email, row.organization, row.dietary) == ("", "", "", "", "")
        assert _figures(event_id) == before
