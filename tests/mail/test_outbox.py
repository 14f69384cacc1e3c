"""The outbox: queued in the caller's transaction, delivered once by a real worker over real SMTP."""
import time

import pytest
from sqlalchemy import func, select, update

from portal.database import utcnow
from portal.extensions import db
from portal.celery_app import publish_committed_tasks
from portal.mail import Attachment, Cause, EmailContent, InvalidEmailError, delivery, email
from portal.mail import withhold
from portal.mail.models import EmailStatus, Lane, OutgoingEmail
from portal.mail.outbox import PreparedEmail, queue_failed_again, queue_many
from portal.mail.render import RenderedEmail
from portal.mail.tasks import deliver_bulk_emails, deliver_emails
from tests.support.broker import take_published
from tests.support.mail import GENEROUS, PDF, queue_test_email, row_state, wait_for_status
from tests.support.wait import wait_until
from tests.support.worker import start_worker


def test_queued_email_is_written_in_the_callers_transaction(app):
    with app.app_context():
        queue_test_email()
        db.session.rollback()
        assert db.session.scalar(select(OutgoingEmail)) is None
        row = queue_test_email()
        db.session.commit()
        stored = db.session.get(OutgoingEmail, row.id)
        assert stored.status == EmailStatus.QUEUED.value
        assert stored.subject == "A test message for Ada"
        assert stored.message_id.startswith("<") and stored.message_id.endswith(">")


@pytest.mark.parametrize("sender, domain", [
    ("Policy Summit <summit@society.example>", "society.example"),
    ("news@Mail.Society.example", "mail.society.example"),
    ("Gesellschaft <summit@bücher.example>", "xn--bcher-kva.example"),
])
def test_message_ids_take_the_senders_domain_not_the_base_urls_host(make_app, sender, domain):
    app = make_app(MAIL_DEFAULT_SENDER=sender, PORTAL_BASE_URL="https://10.0.0.7:8443")
    with app.app_context():
        single = queue_test_email()
        bulk = queue_many(prepared_for_readers(2))
        db.session.commit()
        bulk_ids = db.session.scalars(select(OutgoingEmail.message_id).where(OutgoingEmail.id.in_(bulk)))
        message_ids = [single.message_id, *bulk_ids]
    assert len(set(message_ids)) == 3
    assert all(m.startswith("<") and m.endswith(f"@{domain}>") for m in message_ids), message_ids


def test_email_decorator_queues_the_context_it_returns(app):
    @email("test_message")
    def send_test_message(person):
        return {"name": person}

    with app.app_context():
        row = send_test_message("Grace", to="grace@example.org")
        db.session.commit()
        stored = db.session.get(OutgoingEmail, row.id)
        assert (stored.to_address, stored.subject) == ("grace@example.org", "A test message for Grace")
        assert (stored.headers, stored.cause_kind, stored.cause_id) == ({}, None, None)


def test_headers_attachments_and_cause_travel_beside_the_context(app):
    @email("test_message")
    def send_test_message(person):
        # A context key called "headers" is just template data, never a header.
        return EmailContent(
            {"name": person, "headers": {"X-Not-A-Header": "1"}},
            attachments=[Attachment("agenda.pdf", "application/pdf", PDF)],
            headers={"List-Id": "Portal news <news.portal.localhost>"},
            cause=Cause("subscriber", 7),
        )

    with app.app_context():
        row = send_test_message(
            "Grace", to="grace@example.org", headers={"List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}
        )
        db.session.commit()
        stored = db.session.get(OutgoingEmail, row.id)
        assert stored.headers == {
            "List-Id": "Portal news <news.portal.localhost>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        }
        assert [a.filename for a in stored.attachments] == ["agenda.pdf"]
        assert (stored.cause_kind, stored.cause_id) == ("subscriber", 7)


def test_a_send_time_check_withholds_a_queued_message(smtp_env, smtp_server, make_app, monkeypatch):
    monkeypatch.setattr(withhold, "_CHECKS", {})
    gone = set()

    def check(rows):
        return {row.id: "unsubscribed after queueing" for row in rows if row.to_address in gone}

    @email("test_message", withhold_if=check)
    def send_test_message(person):
        return {"name": person}

    app = make_app()
    with app.app_context():
        kept = send_test_message("Ada", to="ada@example.org").id
        withheld = send_test_message("Eve", to="eve@example.org").id
        db.session.commit()
        gone.add("eve@example.org")
        assert deliver_emails([kept, withheld])["withheld"] == 1
    assert [m.recipients for m in smtp_server.messages] == [["ada@example.org"]]
    state = row_state(app, withheld)
    assert (state.status, state.last_error) == (EmailStatus.WITHHELD.value, "unsubscribed after queueing")


def test_real_worker_delivers_outbox_email_over_smtp(smtp_env, smtp_server, make_app, celery_worker):
    app = make_app()
    with app.test_request_context():
        row = queue_test_email()
        db.session.commit()
        email_id = row.id
        publish_committed_tasks()
    received = smtp_server.wait_for(1, timeout=GENEROUS)
    assert received[0].recipients == ["ada@example.org"]
    assert received[0].message["Subject"] == "A test message for Ada"
    assert wait_for_status(app, email_id, EmailStatus.SENT)


INJECTIONS = {
    "recipient": dict(to="ada@example.org\r\nBcc: eve@example.org"),
    "recipient-lf-only": dict(to="ada@example.org\nBcc: eve@example.org"),
    "header-value": dict(headers={"List-Unsubscribe": "<https://x.example/u>\r\nBcc: eve@example.org"}),
    "attachment-filename": dict(attachments=[Attachment("a.pdf\r\nBcc: eve@example.org", "application/pdf", b"%PDF")]),
    "content-id": dict(attachments=[Attachment("logo.png", "image/png", b"png", content_id="logo\r\nBcc: x")]),
}


@pytest.mark.parametrize("fields", INJECTIONS.values(), ids=INJECTIONS.keys())
def test_queue_refuses_a_line_break_in_any_header_field_and_writes_nothing(app, fields):
    with app.app_context():
        with pytest.raises(InvalidEmailError, match="line break"):
            queue_test_email(**fields)
        db.session.commit()
        assert db.session.scalar(select(func.count()).select_from(OutgoingEmail)) == 0


NOT_ONE_ADDRESS = ["", "not an address", "ada@example.org, eve@example.org"]


@pytest.mark.parametrize("to", NOT_ONE_ADDRESS)
def test_queue_refuses_a_recipient_that_is_not_exactly_one_address(app, to):
    with app.app_context():
        with pytest.raises(InvalidEmailError, match="not exactly one email address"):
            queue_test_email(to=to)


@pytest.mark.parametrize("name", ["To", "bcc", "Content-Type", "Message-ID", "Bad Name"])
def test_queue_refuses_headers_the_outbox_owns_or_malformed_names(app, name):
    with app.app_context():
        with pytest.raises(InvalidEmailError, match="header"):
            queue_test_email(headers={name: "value"})


def test_a_bulk_queue_stores_every_message_exactly_as_given(app):
    text_body = "Tab\there, a backslash \\ and \\n, CRLF\r\nand a lone CR\rZoë · 東京\n"
    html_body = "<p>Zoë &amp; \\ \t</p>\n" * 400  # long enough to be compressed
    headers = {"List-Unsubscribe": "<https://example.org/u/1>", "List-Id": "News <news.example.org>"}
    with app.app_context():
        ids = queue_many([
            PreparedEmail(name="digest", to=f"reader{n}@example.org",
                          rendered=RenderedEmail(subject=f"Issue {n} · Zoë", text=text_body, html=html_body),
                          headers=headers, cause=Cause("subscriber", n))
            for n in range(3)
        ])
        db.session.commit()
        rows = db.session.scalars(select(OutgoingEmail).where(OutgoingEmail.id.in_(ids)).order_by(OutgoingEmail.id))
        stored = [(r.id, r.to_address, r.subject, r.body_text, r.body_html, r.headers, r.cause_kind, r.cause_id,
                   r.status, r.attempts, r.deferrals, r.next_attempt_at is not None, r.created_at is not None)
                  for r in rows]
    assert stored == [
        (ids[n], f"reader{n}@example.org", f"Issue {n} · Zoë", text_body, html_body, headers, "subscriber", n,
         EmailStatus.QUEUED.value, 0, 0, True, True)
        for n in range(3)
    ]


def prepared_for_readers(count: int, name: str = "digest") -> list[PreparedEmail]:
    return [
        PreparedEmail(name=name, to=f"reader{n}@example.org",
                      rendered=RenderedEmail(subject=f"Issue {n}", text="Hello\n", html="<p>Hello</p>"),
                      headers={}, cause=Cause("subscriber", n))
        for n in range(count)
    ]


def test_a_mailing_goes_to_the_bulk_lane_and_its_queue(app):
    with app.app_context():
        ids = queue_many(prepared_for_readers(3))
        db.session.commit()
        publish_committed_tasks()
        lanes = set(db.session.scalars(select(OutgoingEmail.lane).where(OutgoingEmail.id.in_(ids))))
    assert lanes == {Lane.BULK.value}
    assert take_published(app) == [("portal.deliver_bulk_emails", (ids,))]


def test_a_confirmation_goes_to_the_transactional_lane_and_its_queue(app):
    with app.app_context():
        row = queue_test_email()
        db.session.commit()
        publish_committed_tasks()
        assert row.lane == Lane.TRANSACTIONAL.value
        email_id = row.id
    assert take_published(app) == [("portal.deliver_emails", ([email_id],))]


def test_the_bulk_rate_sends_what_its_window_allows_and_queues_the_rest_for_the_next(smtp_env, smtp_server, make_app):
    app = make_app(MAIL_BULK_RATE="2/hour")
    with app.app_context():
        # Not "digest": its send-time check would withhold mail to readers who do not exist.
        ids = queue_many(prepared_for_readers(5, name="notice"))
        db.session.commit()
        outcome = deliver_bulk_emails(ids)
        waiting = db.session.scalars(select(OutgoingEmail).where(OutgoingEmail.id.in_(ids[2:]))).all()
        assert (outcome["sent"], outcome["released"]) == (2, 3)
        assert {(row.status, row.attempts) for row in waiting} == {(EmailStatus.QUEUED.value, 0)}
        assert all(row.next_attempt_at > utcnow() for row in waiting)
        assert delivery.due_email_ids() == []
    assert len(smtp_server.messages) == 2


def test_transactional_mail_is_never_held_by_the_bulk_rate(smtp_env, smtp_server, make_app):
    app = make_app(MAIL_BULK_RATE="1/hour")
    with app.app_context():
        ids = [queue_test_email(to=f"person{n}@example.org").id for n in range(3)]
        db.session.commit()
        assert deliver_emails(ids)["sent"] == 3


def test_a_bulk_task_gives_its_process_back_after_its_time_and_hands_the_rest_on(smtp_env, smtp_server, make_app):
    app = make_app(MAIL_BULK_RATE="1/second", MAIL_BULK_TASK_SECONDS=1.5)
    with app.app_context():
        ids = queue_many(prepared_for_readers(10, name="notice"))
        db.session.commit()
        publish_committed_tasks()
        take_published(app)
        outcome = deliver_bulk_emails(ids)
    assert 1 <= outcome["sent"] <= 3 and outcome["sent"] + outcome["released"] == 10
    [(task, (handed_on,))] = take_published(app)
    assert task == "portal.deliver_bulk_emails" and handed_on == ids[outcome["sent"]:]


def test_the_bulk_rate_holds_across_every_worker_process(smtp_env, smtp_server, make_app, tmp_path):
    smtp_env["MAIL_BULK_RATE"] = "4/hour"
    app = make_app()
    worker = start_worker(smtp_env, tmp_path, concurrency=2)
    try:
        with app.app_context():
            ids = []
            for batch in range(4):  # four tasks, for the two processes to share
                ids += queue_many(prepared_for_readers(3, name="notice"))
                db.session.commit()
                publish_committed_tasks()

        def settled():
            with app.app_context():
                sending = db.session.scalar(select(func.count()).where(OutgoingEmail.status == EmailStatus.SENDING.value))
                db.session.remove()
            return sending == 0 and len(smtp_server.messages) >= 4

        wait_until(settled, timeout=GENEROUS, message="the first window's messages sent")
        time.sleep(1)
    finally:
        worker.stop()
    assert len(smtp_server.messages) == 4


def test_failed_mail_queued_again_goes_back_to_its_own_lane(app):
    with app.app_context():
        [bulk] = queue_many(prepared_for_readers(1))
        transactional = queue_test_email().id
        db.session.execute(update(OutgoingEmail).values(status=EmailStatus.FAILED.value))
        db.session.commit()
        publish_committed_tasks()
        take_published(app)
        assert queue_failed_again() == [bulk, transactional]
        db.session.commit()
        publish_committed_tasks()
    assert sorted(take_published(app)) == [("portal.deliver_bulk_emails", ([bulk],)),
                                           ("portal.deliver_emails", ([transactional],))]
