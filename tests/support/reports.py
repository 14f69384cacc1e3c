"""Messages as they arrive in a bounce mailbox, built with the email package the way real MTAs shape them.

postfix_dsn: Postfix's bounce (multipart/report, report-type=delivery-status,
with a human part, the message/delivery-status fields and the returned
headers as text/rfc822-headers). arf_report: a mailbox provider's RFC 5965
feedback report with the original message attached. qmail_bounce: the
non-standard text bounce flufl.bounce recognises. out_of_office: an
auto-reply, which is no report at all.
"""
from email.message import Message
from email.mime.message import MIMEMessage
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import formatdate, make_msgid

REPORTING_MTA = "mail.example.net"


def _fields(**headers) -> Message:
    """A block of header fields (one of a delivery-status part's blocks, or a feedback report)."""
    block = Message()
    for name, value in headers.items():
        if value is not None:
            block[name.replace("_", "-")] = value
    return block


def _envelope(report: Message, to: str, subject: str, sender: str) -> None:
    # What the delivering MTA (Postfix's local or virtual delivery, Dovecot's LDA) adds: the
    # envelope recipient of the report, which for a bounce is the VERP return path.
    report["Return-Path"] = "<>"
    report["Delivered-To"] = to
    report["Date"] = formatdate()
    report["From"] = sender
    report["Subject"] = subject
    report["To"] = to
    report["Message-ID"] = make_msgid(domain=REPORTING_MTA)


def original_headers(message_id: str, to: str, return_path: str | None = None,
                     sender: str = "Policy Summit <summit@example.org>") -> str:
    """The returned headers of the message that bounced (text/rfc822-headers)."""
    lines = [f"Return-Path: <{return_path}>"] if return_path else []
    lines += [
        f"From: {sender}",
        f"To: {to}",
        "Subject: Your monthly digest",
        f"Date: {formatdate()}",
        f"Message-ID: {message_id}",
        "MIME-Version: 1.0",
    ]
    return "\n".join(lines) + "\n"


def postfix_dsn(to: str, recipient: str, message_id: str | None = None, status: str = "5.1.1",
                action: str = "failed", diagnostic: str | None = None, envelope_sender: str | None = None) -> bytes:
    """A Postfix bounce for `recipient`, delivered to `to` (the return path it was sent to)."""
    diagnostic = diagnostic or f"550 {status} <{recipient}>: Recipient address rejected: User unknown in virtual mailbox table"
    report = MIMEMultipart("report", report_type="delivery-status")
    _envelope(report, to, "Undelivered Mail Returned to Sender",
              f"MAILER-DAEMON@{REPORTING_MTA} (Mail Delivery System)")
    report["Auto-Submitted"] = "auto-replied"
    notice = MIMEText(
        f"This is the mail system at host {REPORTING_MTA}.\n\n"
        "I'm sorry to have to inform you that your message could not\n"
        "be delivered to one or more recipients. It's attached below.\n\n"
        "                   The mail system\n\n"
        f"<{recipient}>: host mx.example.com[192.0.2.25] said: {diagnostic} (in reply to RCPT TO command)\n"
    )
    notice["Content-Description"] = "Notification"
    report.attach(notice)
    status_part = Message()
    status_part["Content-Description"] = "Delivery report"
    status_part["Content-Type"] = "message/delivery-status"
    status_part.set_payload([
        _fields(Reporting_MTA=f"dns; {REPORTING_MTA}", X_Postfix_Queue_ID="4B1C22000F",
                X_Postfix_Sender=f"rfc822; {envelope_sender}" if envelope_sender else None,
                Arrival_Date=formatdate()),
        _fields(Final_Recipient=f"rfc822; {recipient}", Original_Recipient=f"rfc822;{recipient}", Action=action,
                Status=status, Remote_MTA="dns; mx.example.com", Diagnostic_Code=f"smtp; {diagnostic}"),
    ])
    report.attach(status_part)
    if message_id:
        returned = MIMEText(original_headers(message_id, recipient, envelope_sender), "rfc822-headers")
        returned["Content-Description"] = "Undelivered Message Headers"
        report.attach(returned)
    return report.as_bytes()


def global_dsn(to: str, recipient: str, message_id: str, status: str = "5.1.1") -> bytes:
    """Postfix's bounce of an SMTPUTF8 message (RFC 6533): the same report, its fields and returned
    headers in UTF-8 (message/global-delivery-status, message/global-headers)."""
    report = MIMEMultipart("report", report_type="global-delivery-status")
    _envelope(report, to, "Undelivered Mail Returned to Sender",
              f"MAILER-DAEMON@{REPORTING_MTA} (Mail Delivery System)")
    report.attach(MIMEText(f"<{recipient}>: host mx.example.com[192.0.2.25] said: 550 {status} unknown user\n", "plain", "utf-8"))
    fields = (
        f"Reporting-MTA: dns; {REPORTING_MTA}\n\n"
        f"Final-Recipient: utf-8; {recipient}\nOriginal-Recipient: utf-8;{recipient}\nAction: failed\n"
        f"Status: {status}\nDiagnostic-Code: smtp; 550 {status} <{recipient}>: unknown user\n"
    )
    for kind, text in (("global-delivery-status", fields), ("global-headers", original_headers(message_id, recipient))):
        part = Message()
        part["Content-Type"] = f"message/{kind}"
        part["Content-Transfer-Encoding"] = "8bit"
        part.set_payload(text)
        report.attach(part)
    # Written as text and encoded whole: the parts are raw UTF-8, as on the wire.
    return report.as_string().encode("utf-8")


def arf_report(to: str, recipient: str, message_id: str, feedback_type: str = "abuse",
               original_mail_from: str | None = None) -> bytes:
    """An RFC 5965 feedback report about the message `message_id` that `recipient` marked as spam."""
    report = MIMEMultipart("report", report_type="feedback-report")
    _envelope(report, to, "Email Feedback Report for IP 192.0.2.10", "Feedback Loop <fbl@mailbox.example.com>")
    report.attach(MIMEText(
        "This is an email abuse report for an email message received from IP 192.0.2.10.\n"
        "For more information about this format please see https://www.rfc-editor.org/rfc/rfc5965.\n"
    ))
    fields = Message()
    fields["Content-Type"] = "message/feedback-report"
    fields.set_payload([_fields(
        Feedback_Type=feedback_type, User_Agent="ExampleFBL/1.0", Version="1",
        Original_Mail_From=f"<{original_mail_from}>" if original_mail_from else None,
        Original_Rcpt_To=f"<{recipient}>", Arrival_Date=formatdate(), Source_IP="192.0.2.10",
        Reported_Domain="example.org",
    )])
    report.attach(fields)
    original = MIMEText("Your monthly digest.\n")
    for line in original_headers(message_id, recipient).splitlines():
        name, _, value = line.partition(": ")
        if name != "MIME-Version":
            original[name] = value
    report.attach(MIMEMessage(original))
    return report.as_bytes()


def qmail_bounce(to: str, recipient: str) -> bytes:
    """qmail's plain-text bounce: no DSN fields, recognised by flufl.bounce's qmail detector."""
    report = MIMEText(
        f"Hi. This is the qmail-send program at {REPORTING_MTA}.\n"
        "I'm afraid I wasn't able to deliver your message to the following addresses.\n"
        "This is a permanent error; I've given up. Sorry it didn't work out.\n\n"
        f"<{recipient}>:\n"
        "Sorry, no mailbox here by that name. (#5.1.1)\n\n"
        "--- Below this line is a copy of the message.\n\n"
        "From: Policy Summit <summit@example.org>\n"
        "Subject: Your monthly digest\n"
    )
    _envelope(report, to, "failure notice", f"MAILER-DAEMON@{REPORTING_MTA}")
    return report.as_bytes()


def out_of_office(to: str, sender: str = "Ada Lovelace <ada@example.org>") -> bytes:
    """An auto-reply to the return path: RFC 3834's Auto-Submitted, a person's words, no report."""
    reply = MIMEText(
        "Thank you for your message. I am out of the office until 4 January with no access to email.\n"
        "For urgent matters please contact my colleague.\n"
    )
    _envelope(reply, to, "Automatic reply: Your monthly digest", sender)
    reply["Auto-Submitted"] = "auto-replied"
    reply.replace_header("Return-Path", f"<{sender}>")
    return reply.as_bytes()
