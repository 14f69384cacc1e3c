"""The bounce mailbox poll itself: its settings, its command and task, its lock, and what it does with trouble."""
import logging
import mailbox
from urllib.parse import quote

import pytest
from imapclient import IMAPClient
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from portal.config import ConfigError, load_config
from portal.deliverability import intake
from portal.deliverability.models import DeliveryEvent
from portal.deliverability.tasks import poll_bounce_mailbox
from portal.extensions import db
from tests.support.bounces import BOUNCE_ADDRESS, BounceRelay, auto_reply, feedback_report
from tests.support.dovecot import DovecotServer
from tests.support.mail import GENEROUS, wait_for_task_successes
from tests.support.wait import wait_until

SECRET = "hunter2-s3cret"
NOT_OURS = b"Message-ID: <not-ours@elsewhere.test>\r\nTo: someone@elsewhere.test\r\nSubject: hi\r\n\r\nhello\r\n"


@pytest.fixture
def maildir(tmp_path):
    box = mailbox.Maildir(str(tmp_path / "Maildir"), factory=None, create=True)
    yield box
    box.close()


@pytest.fixture
def maildir_app(maildir, tmp_path, portal_env, make_app):
    portal_env["MAIL_BOUNCE_ADDRESS"] = BOUNCE_ADDRESS
    portal_env["BOUNCE_MAILDIR"] = str(tmp_path / "Maildir")
    return make_app()


def unmatched_report() -> bytes:
    """A complaint about a message the portal never sent."""
    return feedback_report(NOT_OURS, "someone@elsewhere.test")


def filed(box: mailbox.Maildir) -> list[bytes]:
    folder = box.get_folder("unmatched") if "unmatched" in box.list_folders() else None
    return [folder.get_bytes(key) for key in folder.keys()] if folder else []


def event_count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(DeliveryEvent))


@pytest.mark.parametrize("url", ["imaps://bounces:SECRET@mail.example.org:99x/INBOX", "https://bounces:SECRET@mail.example.org/",
                                 "imaps://bounces:SECRET@/INBOX", "imaps://mail.example.org/INBOX"])
def test_a_malformed_imap_url_stops_start_up_and_never_shows_the_password(tmp_path, url):
    with pytest.raises(ConfigError) as refused:
        load_config(str(tmp_path), {"BOUNCE_IMAP_URL": url.replace("SECRET", SECRET)})
    assert "BOUNCE_IMAP_URL" in str(refused.value)
    assert SECRET not in str(refused.value)


def test_two_bounce_mailboxes_at_once_are_refused(tmp_path):
    with pytest.raises(ConfigError, match="not both"):
        load_config(str(tmp_path), {"BOUNCE_MAILDIR": "/var/mail/bounces", "BOUNCE_IMAP_URL": "imaps://u:p@h/INBOX"})


def test_a_relative_maildir_path_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="absolute path"):
        load_config(str(tmp_path), {"BOUNCE_MAILDIR": "bounces/Maildir"})


def test_beat_polls_the_mailbox_every_poll_interval_only_when_one_is_configured(portal_env, make_app, tmp_path):
    assert "poll-bounce-mailbox" not in make_app().extensions["celery"].conf.beat_schedule
    portal_env.update(BOUNCE_MAILDIR=str(tmp_path), BOUNCE_POLL_SECONDS="15")
    entry = make_app().extensions["celery"].conf.beat_schedule["poll-bounce-mailbox"]
    assert entry["task"] == "portal.deliverability.poll_bounce_mailbox"
    assert entry["schedule"].total_seconds() == 15
    assert entry["options"] == {"expires": 15}


def test_the_poll_command_without_a_mailbox_says_what_to_set(app):
    outcome = app.test_cli_runner().invoke(args=["bounces", "poll"])
    assert outcome.exit_code == 1
    assert "set BOUNCE_MAILDIR or BOUNCE_IMAP_URL" in outcome.output


def test_the_poll_command_prints_what_it_found(maildir_app, maildir):
    maildir.add(auto_reply(BOUNCE_ADDRESS))
    maildir.add(unmatched_report())
    outcome = maildir_app.test_cli_runner().invoke(args=["bounces", "poll"])
    assert outcome.exit_code == 0, outcome.output
    assert outcome.output == ("Bounce mailbox: 2 message(s): 0 hard bounce(s), 0 soft bounce(s), 0 complaint(s), "
                              "1 unmatched (filed in 'unmatched'), 0 unreadable (filed in 'unmatched'), "
                              "1 not a report (deleted).\n")
    assert list(maildir.keys()) == []
    assert len(filed(maildir)) == 1


def test_the_poll_task_returns_its_counts(maildir_app, maildir):
    maildir.add(auto_reply(BOUNCE_ADDRESS))
    with maildir_app.app_context():
        assert poll_bounce_mailbox() == {"hard_bounce": 0, "soft_bounce": 0, "complaint": 0, "unmatched": 0,
                                         "failed": 0, "ignored": 1, "error": None, "busy": False}


def test_a_second_poll_while_one_runs_reads_nothing(maildir_app, maildir):
    maildir.add(auto_reply(BOUNCE_ADDRESS))
    with maildir_app.app_context(), intake.poll_lock() as holding:
        assert holding
        outcome = maildir_app.test_cli_runner().invoke(args=["bounces", "poll"])
        assert outcome.exit_code == 1
        assert "another poll of the bounce mailbox is running" in outcome.output
        assert len(maildir.keys()) == 1
    with maildir_app.app_context():
        assert intake.poll_bounce_mailbox().counts["ignored"] == 1


def test_a_message_that_cannot_be_processed_is_filed_and_logged_without_its_addresses(
        maildir_app, maildir, monkeypatch, caplog):
    real = intake.process_report

    def crashes_on_the_first(raw):
        if b"not-ours@elsewhere.test" in raw:
            raise ValueError("cannot read someone@elsewhere.test")
        return real(raw)

    monkeypatch.setattr(intake, "process_report", crashes_on_the_first)
    maildir.add(NOT_OURS)
    maildir.add(auto_reply(BOUNCE_ADDRESS))
    with maildir_app.app_context(), caplog.at_level(logging.ERROR, logger="portal.deliverability.intake"):
        result = intake.poll_bounce_mailbox()
    assert (result.counts["failed"], result.counts["ignored"], result.error) == (1, 1, None)
    assert filed(maildir) == [NOT_OURS]
    assert list(maildir.keys()) == []
    (record,) = caplog.records
    assert "ValueError" in record.getMessage()
    assert "elsewhere.test" not in caplog.text


def test_a_database_outage_leaves_the_message_for_the_next_poll(maildir_app, maildir, monkeypatch):
    def database_gone(raw):
        raise OperationalError("SELECT 1", {}, ConnectionRefusedError("connection refused"))

    maildir.add(unmatched_report())
    monkeypatch.setattr(intake, "process_report", database_gone)
    with maildir_app.app_context():
        result = intake.poll_bounce_mailbox()
    assert "the database is not available" in result.error
    assert len(maildir.keys()) == 1 and filed(maildir) == []

    monkeypatch.undo()
    with maildir_app.app_context():
        assert intake.poll_bounce_mailbox().counts["unmatched"] == 1
    assert event_count(maildir_app) == 1


@pytest.fixture
def dovecot(tls_certificate):
    """Dovecot serving a Maildir (the bounce relay's, owned by the account mail is delivered as)."""
    with BounceRelay() as relay, DovecotServer(relay.maildir, tls_certificate, "bounces", SECRET) as server:
        server.relay = relay
        yield server


def test_an_imap_server_whose_certificate_is_not_trusted_is_refused(dovecot, portal_env, make_app):
    dovecot.relay.drop(auto_reply(BOUNCE_ADDRESS))
    portal_env["BOUNCE_IMAP_URL"] = f"imaps://bounces:{quote(SECRET)}@127.0.0.1:{dovecot.tls_port}/INBOX"
    with make_app().app_context():
        result = intake.poll_bounce_mailbox()
    assert "CERTIFICATE_VERIFY_FAILED" in result.error
    assert SECRET not in result.error
    assert len(dovecot.relay.inbox()) == 1


def test_plain_imap_is_spoken_to_a_server_on_this_host(dovecot, portal_env, make_app, caplog):
    dovecot.relay.drop(auto_reply(BOUNCE_ADDRESS))
    dovecot.relay.drop(unmatched_report())
    portal_env["BOUNCE_IMAP_URL"] = f"imap://bounces:{quote(SECRET)}@127.0.0.1:{dovecot.port}"
    with make_app().app_context(), caplog.at_level(logging.DEBUG):
        result = intake.poll_bounce_mailbox()
    assert "LOGIN" in caplog.text and SECRET not in caplog.text
    assert (result.counts["ignored"], result.counts["unmatched"], result.error) == (1, 1, None)
    assert dovecot.relay.inbox() == []
    assert len(dovecot.relay.unmatched()) == 1


def test_a_message_flagged_deleted_by_a_poll_that_died_before_expunging_is_removed_unread(dovecot, portal_env, make_app):
    dovecot.relay.drop(unmatched_report())
    with IMAPClient("127.0.0.1", port=dovecot.port, ssl=False, timeout=10) as client:
        client.login("bounces", SECRET)
        client.select_folder("INBOX")
        client.delete_messages(client.search("ALL"))
    portal_env["BOUNCE_IMAP_URL"] = f"imap://bounces:{quote(SECRET)}@127.0.0.1:{dovecot.port}/INBOX"
    app = make_app()
    with app.app_context():
        result = intake.poll_bounce_mailbox()
    assert sum(result.counts.values()) == 0 and result.error is None
    assert dovecot.relay.inbox() == [] and dovecot.relay.unmatched() == []
    assert event_count(app) == 0


@pytest.fixture
def polled_maildir(maildir, tmp_path, portal_env):
    """The Maildir, configured for the worker and beat started after it, polled every second."""
    portal_env.update(BOUNCE_MAILDIR=str(tmp_path / "Maildir"), BOUNCE_POLL_SECONDS="1")
    return maildir


def test_beat_has_a_worker_empty_the_mailbox(polled_maildir, celery_worker, celery_beat):
    polled_maildir.add(auto_reply(BOUNCE_ADDRESS))
    wait_until(lambda: not polled_maildir.keys(), timeout=GENEROUS, message="the beat-driven poll emptying the mailbox")
    wait_for_task_successes(celery_worker, "portal.deliverability.poll_bounce_mailbox", 1)
