"""Delivery outcomes: retries scheduled in the database, permanent failures, races, leases."""
import re
import threading
from datetime import timedelta

from sqlalchemy import update

from portal.database import utcnow
from portal.extensions import db
from portal.mail.delivery import due_email_ids
from portal.mail.tasks import deliver_emails, sweep_outbox
from portal.mail.models import EmailStatus, OutgoingEmail
from portal.celery_app import publish_committed_tasks
from tests.support.mail import (
    GENEROUS,
    queue_test_email,
    row_state,
    wait_for_more_sweeps,
    wait_for_status,
    wait_for_task_successes,
)
from tests.support.smtp import SMTPServer, free_port


def queue_and_dispatch(app, **kwargs) -> int:
    with app.test_request_context():
        email_id = queue_test_email(**kwargs).id
        db.session.commit()
        publish_committed_tasks()
    return email_id


def queue_committed(app, **kwargs) -> int:
    with app.app_context():
        email_id = queue_test_email(**kwargs).id
        db.session.commit()
    return email_id


def set_row(app, email_id: int, **values) -> None:
    with app.app_context():
        db.session.execute(update(OutgoingEmail).where(OutgoingEmail.id == email_id).values(**values))
        db.session.commit()


def test_temporary_smtp_failure_is_retried_by_the_sweeper_and_delivered_once(
    smtp_env, smtp_server, make_app, celery_worker, celery_beat
):
    smtp_server.script("451 4.3.0 Try again later")
    app = make_app()
    email_id = queue_and_dispatch(app)
    state = wait_for_status(app, email_id, EmailStatus.SENT)
    assert state.attempts == 2
    assert len(smtp_server.messages) == 1
    # The second attempt was handed to the broker by a sweep, not by the first task.
    assert re.search(r"Task portal\.sweep_outbox\[[^\]]+\] succeeded in [\d.]+s: [1-9]", celery_worker.output())


def test_temporary_failure_is_not_retried_before_next_attempt_at(smtp_env, smtp_server, make_app):
    smtp_server.script("451 4.3.0 Try again later")
    app = make_app(OUTBOX_RETRY_BASE_SECONDS=3600, OUTBOX_RETRY_CAP_SECONDS=3600)
    email_id = queue_committed(app)
    with app.app_context():
        assert deliver_emails([email_id])["retry"] == 1
        assert deliver_emails([email_id])["sent"] == 0
        assert email_id not in due_email_ids()
    state = row_state(app, email_id)
    assert (state.status, state.attempts) == (EmailStatus.QUEUED.value, 1)
    assert state.next_attempt_at > utcnow() + timedelta(minutes=25)
    assert state.last_error == "451 4.3.0 Try again later"
    assert smtp_server.messages == []


def test_permanent_smtp_failure_is_recorded_and_never_retried(
    smtp_env, smtp_server, make_app, celery_worker, celery_beat
):
    smtp_server.script("550 5.1.1 No such user here")
    app = make_app()
    email_id = queue_and_dispatch(app)
    state = wait_for_status(app, email_id, EmailStatus.FAILED)
    assert state.last_error == "550 5.1.1 No such user here"
    wait_for_more_sweeps(celery_worker, 2)
    state = row_state(app, email_id)
    assert (state.status, state.attempts) == (EmailStatus.FAILED.value, 1)
    assert smtp_server.messages == []


def test_a_refused_recipient_fails_its_message_and_the_session_carries_on(smtp_env, smtp_server, make_app):
    smtp_server.script_envelope(("RCPT", "550 5.1.1 No such user here"))
    app = make_app()
    refused, accepted = queue_committed(app, to="gone@example.org"), queue_committed(app, to="ada@example.org")
    with app.app_context():
        assert deliver_emails([refused, accepted])["sent"] == 1
    assert row_state(app, refused).status == EmailStatus.FAILED.value
    assert row_state(app, refused).last_error == "550 5.1.1 No such user here"
    assert row_state(app, accepted).status == EmailStatus.SENT.value
    assert [mail.recipients for mail in smtp_server.messages] == [["ada@example.org"]]


def test_a_sender_refused_for_now_is_retried_later(smtp_env, smtp_server, make_app):
    smtp_server.script_envelope(("MAIL", "451 4.7.1 Greylisted, come back later"))
    app = make_app()
    email_id = queue_committed(app)
    with app.app_context():
        assert deliver_emails([email_id])["retry"] == 1
    state = row_state(app, email_id)
    assert (state.status, state.attempts, state.last_error) == (
        EmailStatus.QUEUED.value, 1, "451 4.7.1 Greylisted, come back later")
    assert smtp_server.messages == []


def test_the_envelope_names_the_bare_addresses(smtp_env, smtp_server, make_app):
    app = make_app(MAIL_DEFAULT_SENDER="Policy Summit <news@example.org>")
    email_id = queue_committed(app, to="ada@example.org")
    with app.app_context():
        assert deliver_emails([email_id])["sent"] == 1
    (mail,) = smtp_server.messages
    assert (mail.sender, mail.recipients) == ("news@example.org", ["ada@example.org"])
    assert mail.message["From"] == "Policy Summit <news@example.org>"


def test_lines_that_start_with_a_dot_arrive_intact(smtp_env, smtp_server, make_app):
    # A lone "." line ends DATA: unless every leading dot is doubled, the message is cut there.
    text = "Hello Ada,\n.\n.leading dot\n..two dots\nThe end.\n"
    app = make_app()
    email_id = queue_committed(app)
    set_row(app, email_id, body_text=text)
    with app.app_context():
        assert deliver_emails([email_id])["sent"] == 1
    (mail,) = smtp_server.messages
    assert mail.message.get_body(("plain",)).get_content().replace("\r\n", "\n") == text
    assert "This is a test." in mail.message.get_body(("html",)).get_content()


def test_same_id_dispatched_five_times_at_once_is_delivered_once(
    smtp_env, smtp_server, make_app, four_process_worker
):
    from portal.mail.tasks import deliver_emails as deliver_task

    app = make_app()
    email_id = queue_committed(app)
    with app.app_context():
        for _ in range(5):
            deliver_task.apply_async([[email_id]])
    wait_for_task_successes(four_process_worker, "portal.deliver_emails", 5)
    assert len(smtp_server.messages) == 1
    state = row_state(app, email_id)
    assert (state.status, state.attempts) == (EmailStatus.SENT.value, 1)


def test_five_threads_claiming_one_row_at_once_send_it_once(smtp_env, smtp_server, make_app):
    app = make_app()
    email_id = queue_committed(app)
    start = threading.Barrier(5)
    outcomes, errors = [], []

    def deliver():
        try:
            with app.app_context():
                start.wait(timeout=GENEROUS)
                outcomes.append(deliver_emails([email_id]))
        except Exception as exc:  # surfaced below: an assert in a thread would be lost
            errors.append(exc)

    threads = [threading.Thread(target=deliver) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(outcome["sent"] for outcome in outcomes) == [0, 0, 0, 0, 1]
    assert len(smtp_server.messages) == 1
    assert row_state(app, email_id).attempts == 1


def test_row_abandoned_mid_send_is_resent_by_the_sweeper_after_its_lease_expires(
    smtp_env, smtp_server, make_app, celery_worker, celery_beat
):
    app = make_app()
    email_id = queue_committed(app)
    # What a worker that crashed mid-send leaves behind.
    set_row(app, email_id, status=EmailStatus.SENDING.value, attempts=1,
            lease_expires_at=utcnow() - timedelta(minutes=1))
    state = wait_for_status(app, email_id, EmailStatus.SENT)
    assert state.attempts == 2
    assert len(smtp_server.messages) == 1


def test_row_with_a_live_lease_is_left_alone_by_the_sweeper(
    smtp_env, smtp_server, make_app, celery_worker, celery_beat
):
    app = make_app()
    email_id = queue_committed(app)
    lease = utcnow() + timedelta(hours=1)
    set_row(app, email_id, status=EmailStatus.SENDING.value, attempts=1, lease_expires_at=lease)
    wait_for_more_sweeps(celery_worker, 2)
    state = row_state(app, email_id)
    assert (state.status, state.attempts, state.lease_expires_at) == (EmailStatus.SENDING.value, 1, lease)
    assert smtp_server.messages == []


def test_row_abandoned_on_its_last_allowed_attempt_is_failed_not_resent(smtp_env, smtp_server, make_app):
    app = make_app(OUTBOX_MAX_ATTEMPTS=3)
    email_id = queue_committed(app)
    set_row(app, email_id, status=EmailStatus.SENDING.value, attempts=3,
            lease_expires_at=utcnow() - timedelta(minutes=1))
    with app.app_context():
        assert sweep_outbox() == 0
    state = row_state(app, email_id)
    assert state.status == EmailStatus.FAILED.value
    assert "abandoned" in state.last_error
    assert smtp_server.messages == []


def test_batch_stops_sending_when_half_its_lease_is_used_and_requeues_the_rest(smtp_env, smtp_server, make_app):
    # A zero lease is "used up" as soon as the first message is on its way.
    app = make_app(OUTBOX_LEASE_SECONDS=0)
    ids = [queue_committed(app, to=f"person{n}@example.org") for n in range(3)]
    with app.app_context():
        outcome = deliver_emails(ids)
    assert (outcome["sent"], outcome["released"]) == (1, 2)
    assert len(smtp_server.messages) == 1
    for email_id in ids[1:]:
        state = row_state(app, email_id)
        assert (state.status, state.attempts, state.lease_expires_at) == (EmailStatus.QUEUED.value, 0, None)


def test_unreachable_server_reschedules_the_whole_batch_without_using_an_attempt(portal_env, make_app):
    portal_env["MAIL_SERVER"] = "127.0.0.1"
    portal_env["MAIL_PORT"] = str(free_port())  # nothing listens there
    app = make_app()
    ids = [queue_committed(app, to=f"person{n}@example.org") for n in range(3)]
    with app.app_context():
        assert deliver_emails(ids) == {"sent": 0, "retry": 0, "failed": 0, "withheld": 0, "released": 0,
                                       "deferred": 3}
    for email_id in ids:
        state = row_state(app, email_id)
        assert (state.status, state.attempts) == (EmailStatus.QUEUED.value, 0)
        assert state.last_error.startswith("cannot connect to 127.0.0.1:")


def test_a_long_outage_never_fails_mail_and_it_goes_out_once_the_server_is_back(portal_env, make_app):
    port = free_port()
    portal_env["MAIL_SERVER"] = "127.0.0.1"
    portal_env["MAIL_PORT"] = str(port)
    app = make_app(OUTBOX_MAX_ATTEMPTS=3)
    email_id = queue_committed(app)
    with app.app_context():
        for _ in range(10):  # far more connection failures than OUTBOX_MAX_ATTEMPTS
            db.session.execute(update(OutgoingEmail).values(next_attempt_at=OutgoingEmail.created_at))
            db.session.commit()
            deliver_emails([email_id])
    state = row_state(app, email_id)
    assert (state.status, state.attempts) == (EmailStatus.QUEUED.value, 0)
    server = SMTPServer(port=port).start()
    try:
        with app.app_context():
            db.session.execute(update(OutgoingEmail).values(next_attempt_at=OutgoingEmail.created_at))
            db.session.commit()
            assert deliver_emails([email_id])["sent"] == 1
        assert len(server.messages) == 1 and row_state(app, email_id).status == EmailStatus.SENT.value
    finally:
        server.stop()


def test_outbox_retry_queues_failed_mail_again_and_it_is_delivered(smtp_env, smtp_server, make_app):
    app = make_app()
    first, second = queue_committed(app, to="one@example.org"), queue_committed(app, to="two@example.org")
    smtp_server.script("550 mailbox unavailable", "550 mailbox unavailable")
    with app.app_context():
        deliver_emails([first, second])
    assert {row_state(app, i).status for i in (first, second)} == {EmailStatus.FAILED.value}

    result = app.test_cli_runner().invoke(args=["outbox", "retry", "--id", str(first)])
    assert result.exit_code == 0 and "1 failed email(s) queued again." in result.output
    assert (row_state(app, first).status, row_state(app, first).attempts) == (EmailStatus.QUEUED.value, 0)
    assert row_state(app, second).status == EmailStatus.FAILED.value
    with app.app_context():
        assert deliver_emails([first])["sent"] == 1
    assert [m.recipients for m in smtp_server.messages] == [["one@example.org"]]


def test_outbox_retry_failed_since_leaves_older_failures_alone(make_app):
    app = make_app()
    old, recent = queue_committed(app), queue_committed(app, to="recent@example.org")
    with app.app_context():
        db.session.execute(update(OutgoingEmail).where(OutgoingEmail.id == old).values(
            status="failed", failed_at=utcnow() - timedelta(days=3)))
        db.session.execute(update(OutgoingEmail).where(OutgoingEmail.id == recent).values(
            status="failed", failed_at=utcnow() - timedelta(hours=1)))
        db.session.commit()
    since = (utcnow() - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    result = app.test_cli_runner().invoke(args=["outbox", "retry", "--failed-since", since])
    assert result.exit_code == 0 and "1 failed email(s)" in result.output
    assert row_state(app, old).status == "failed" and row_state(app, recent).status == "queued"
