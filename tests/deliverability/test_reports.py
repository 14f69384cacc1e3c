"""Reading the bounce mailbox: DSNs, ARF complaints and other bounces, matched to the message they are about."""
import pytest

from portal.deliverability.models import DeliveryEventKind
from portal.deliverability.reports import read_report
from tests.deliverability.conftest import BOUNCES, sent_mail
from tests.support.reports import arf_report, global_dsn, out_of_office, postfix_dsn, qmail_bounce


def test_a_postfix_dsn_is_a_hard_bounce_of_the_message_its_return_path_names(bounce_app):
    mail = sent_mail(bounce_app, "gone@example.org")
    with bounce_app.app_context():
        report = read_report(postfix_dsn(mail.verp, "gone@example.org", envelope_sender=mail.verp))
    assert (report.kind, report.email_id, report.source) == (DeliveryEventKind.HARD_BOUNCE, mail.id, "dsn")
    assert report.recipients == ["gone@example.org"]
    assert report.status_code == "5.1.1"
    assert report.diagnostic.startswith("550 5.1.1 <gone@example.org>: Recipient address rejected")


def test_a_dsn_sent_to_the_plain_bounce_address_is_matched_by_the_returned_message_id(bounce_app):
    mail = sent_mail(bounce_app, "gone@example.org")
    with bounce_app.app_context():
        report = read_report(postfix_dsn(BOUNCES, "gone@example.org", message_id=mail.message_id))
    assert (report.kind, report.email_id) == (DeliveryEventKind.HARD_BOUNCE, mail.id)


def test_a_forged_verp_signature_matches_no_message(bounce_app):
    mail = sent_mail(bounce_app, "gone@example.org")
    forged = mail.verp.replace(mail.verp.split("-")[1].split("@")[0], "a" * 16)
    assert forged != mail.verp
    with bounce_app.app_context():
        report = read_report(postfix_dsn(forged, "gone@example.org", envelope_sender=forged))
    assert report.email_id is None


@pytest.mark.parametrize("status, diagnostic", [
    ("5.2.2", "552 5.2.2 <gone@example.org>: Mailbox full"),
    ("4.4.1", "connect to mx.example.com[192.0.2.25]:25: Connection timed out"),
    ("5.7.1", "554 5.7.1 Message rejected as spam"),
], ids=["mailbox-full", "gave-up-on-a-timeout", "blocked-as-spam"])
def test_a_failure_that_says_nothing_against_the_address_is_a_soft_bounce(bounce_app, status, diagnostic):
    mail = sent_mail(bounce_app, "gone@example.org")
    with bounce_app.app_context():
        report = read_report(postfix_dsn(mail.verp, "gone@example.org", status=status, diagnostic=diagnostic))
    assert (report.kind, report.status_code) == (DeliveryEventKind.SOFT_BOUNCE, status)


@pytest.mark.parametrize("action", ["delayed", "delivered", "relayed"])
def test_a_delay_warning_or_success_notice_is_not_a_bounce(bounce_app, action):
    mail = sent_mail(bounce_app, "slow@example.org")
    with bounce_app.app_context():
        assert read_report(postfix_dsn(mail.verp, "slow@example.org", action=action, status="4.4.1")) is None


def test_an_arf_report_is_a_complaint_about_the_message_it_returns(bounce_app):
    mail = sent_mail(bounce_app, "ada@example.org")
    with bounce_app.app_context():
        report = read_report(arf_report("fbl@news.example.org", "ada@example.org", mail.message_id))
    assert (report.kind, report.email_id, report.source) == (DeliveryEventKind.COMPLAINT, mail.id, "arf")
    assert report.recipients == ["ada@example.org"]


def test_an_arf_report_names_its_message_by_original_mail_from(bounce_app):
    mail = sent_mail(bounce_app, "ada@example.org")
    with bounce_app.app_context():
        report = read_report(arf_report("fbl@news.example.org", "ada@example.org", "<unknown@example.org>",
                                        original_mail_from=mail.verp))
    assert report.email_id == mail.id


def test_an_arf_report_that_is_not_a_complaint_is_not_a_report(bounce_app):
    mail = sent_mail(bounce_app, "ada@example.org")
    with bounce_app.app_context():
        assert read_report(arf_report(mail.verp, "ada@example.org", mail.message_id, feedback_type="not-spam")) is None


def test_a_non_standard_bounce_is_recognised_by_flufl_bounce(bounce_app):
    mail = sent_mail(bounce_app, "gone@example.org")
    with bounce_app.app_context():
        report = read_report(qmail_bounce(mail.verp, "gone@example.org"))
    assert (report.kind, report.email_id, report.source) == (DeliveryEventKind.HARD_BOUNCE, mail.id, "other")


def test_a_non_standard_bounce_about_another_address_matches_no_message(bounce_app):
    mail = sent_mail(bounce_app, "ada@example.org")
    with bounce_app.app_context():
        report = read_report(qmail_bounce(mail.verp, "someone-else@example.org"))
    assert report.email_id is None


def test_an_out_of_office_reply_is_not_a_report(bounce_app):
    mail = sent_mail(bounce_app, "ada@example.org")
    with bounce_app.app_context():
        assert read_report(out_of_office(mail.verp)) is None


@pytest.mark.parametrize("raw", [
    b"\x8f\xff\x00 not a message at all \x00\x01\n\x02\x03",
    b"",
    b"Content-Type: multipart/report; report-type=delivery-status; boundary=x\n\n--x\nContent-Type: "
    b"message/delivery-status\n\n\xff\xfe\x00Action failed\n--x",
], ids=["binary", "empty", "broken-report"])
def test_an_unreadable_message_is_an_unmatched_report(bounce_app, raw):
    with bounce_app.app_context():
        report = read_report(raw)
    assert (report.kind, report.email_id) == (DeliveryEventKind.UNMATCHED, None)


def test_a_bounce_of_smtputf8_mail_is_read_from_its_utf8_report(bounce_app):
    mail = sent_mail(bounce_app, "jöhn@exämple.org")
    with bounce_app.app_context():
        report = read_report(global_dsn(mail.verp, "jöhn@exämple.org", mail.message_id))
        by_message_id = read_report(global_dsn(BOUNCES, "jöhn@exämple.org", mail.message_id))
    assert (report.kind, report.email_id, report.source) == (DeliveryEventKind.HARD_BOUNCE, mail.id, "dsn")
    assert (report.recipients, report.status_code) == (["jöhn@exämple.org"], "5.1.1")
    assert (by_message_id.kind, by_message_id.email_id) == (DeliveryEventKind.HARD_BOUNCE, mail.id)
