"""A Postfix relay whose failures come back as real DSNs into a Maildir, and the other mail a bounce mailbox gets.

The relay (tests.support.postfix) accepts everything the portal sends on
loopback and then delivers by domain:
- gone.test fails for good (`error:5.1.1 user unknown`), full.test for now
  (`retry:4.2.2 mailbox full`); with maximal_queue_lifetime=0 a message is tried
  once, so a temporary failure expires at once instead of after days, and either
  way Postfix's bounce daemon sends an RFC 3464 DSN to the envelope sender;
- bounces.test is a virtual mailbox domain: bounces@bounces.test, and with
  recipient_delimiter "+" every VERP address bounces+…@bounces.test, is delivered
  into one Maildir (the map docs/production.md shows), as `nobody`;
- anything else is accepted and discarded.
smtpd would refuse an `error:` domain at RCPT time; smtpd_reject_unlisted_recipient=no
makes it accept and fail later, as when a remote server refuses after the relay took the message.
"""
import email.policy
import mailbox
import os
import pwd
import smtplib
import time
from email import message_from_bytes
from email.message import EmailMessage, Message
from email.mime.message import MIMEMessage
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import formatdate, make_msgid
from pathlib import Path

from tests.support.postfix import PostfixInstance

BOUNCE_DOMAIN = "bounces.test"
BOUNCE_ADDRESS = f"bounces@{BOUNCE_DOMAIN}"
HARD_DOMAIN = "gone.test"
SOFT_DOMAIN = "full.test"

SETTINGS = {
    "myhostname": "relay.portal.test",
    "mydomain": "portal.test",
    "myorigin": "$myhostname",
    "default_transport": "discard",
    "relay_transport": "discard",
    "local_transport": "discard",
    "transport_maps": "texthash:{etc}/transport",
    "smtpd_reject_unlisted_recipient": "no",
    # Tried once: a temporary failure is returned to the sender at once.
    "maximal_queue_lifetime": "0",
    "bounce_queue_lifetime": "0",
    "recipient_delimiter": "+",
    "virtual_mailbox_domains": BOUNCE_DOMAIN,
    "virtual_mailbox_base": "{root}/mail",
    # Braces doubled: PostfixInstance fills in {root} and {etc} with str.format.
    "virtual_mailbox_maps": f"inline:{{{{ {BOUNCE_ADDRESS}=bounces/Maildir/ }}}}",
    "virtual_uid_maps": "static:{uid}",
    "virtual_gid_maps": "static:{gid}",
}
TRANSPORT = f"{HARD_DOMAIN} error:5.1.1 user unknown\n{SOFT_DOMAIN} retry:4.2.2 mailbox full\n"


class BounceRelay(PostfixInstance):
    """`with BounceRelay() as relay:` the relay on relay.port; DSNs land in relay.maildir."""

    def __init__(self, refuse_at_rcpt: bool = False):
        """refuse_at_rcpt: smtpd refuses a recipient of gone.test at RCPT time (550 5.1.1), as Postfix does by default."""
        nobody = pwd.getpwnam("nobody")
        self.uid, self.gid = nobody.pw_uid, nobody.pw_gid
        settings = {name: value.replace("{uid}", str(self.uid)).replace("{gid}", str(self.gid))
                    for name, value in SETTINGS.items()}
        if refuse_at_rcpt:
            settings["smtpd_reject_unlisted_recipient"] = "yes"
        super().__init__(settings, files={"transport": TRANSPORT}, name="bounces")

    @property
    def maildir(self) -> Path:
        return self.root / "mail" / "bounces" / "Maildir"

    def __enter__(self) -> "BounceRelay":
        super().__enter__()
        try:
            # Made up front, so that the portal and Dovecot find it before the first report; owned
            # by the account Postfix delivers as.
            self.maildir.parent.mkdir(parents=True)
            mailbox.Maildir(str(self.maildir), create=True).close()
            for path in (self.root / "mail", self.root / "mail" / "bounces"):
                os.chown(path, self.uid, self.gid)
            for folder, _dirs, _files in os.walk(self.maildir):
                os.chown(folder, self.uid, self.gid)
        except BaseException:
            self.__exit__()
            raise
        return self

    def send(self, sender: str, recipient: str, data: bytes) -> None:
        with smtplib.SMTP("127.0.0.1", self.port, timeout=30) as smtp:
            smtp.sendmail(sender, [recipient], data)

    def drop(self, raw: bytes) -> None:
        """Put a message into the inbox directly, as Postfix's delivery would (owned by the same account)."""
        box = mailbox.Maildir(str(self.maildir), factory=None, create=False)
        box.add(raw)
        for path in (self.maildir / "new").iterdir():
            os.chown(path, self.uid, self.gid)

    def inbox(self) -> list[bytes]:
        """The messages in the bounce Maildir's inbox now."""
        box = mailbox.Maildir(str(self.maildir), factory=None, create=False)
        return [box.get_bytes(key) for key in sorted(box.keys())]

    def unmatched(self) -> list[bytes]:
        """The messages filed in its `unmatched` folder."""
        folder = self.maildir / ".unmatched"
        if not folder.exists():
            return []
        box = mailbox.Maildir(str(folder), factory=None, create=False)
        return [box.get_bytes(key) for key in sorted(box.keys())]

    def wait_for_inbox(self, count: int, timeout: float = 30) -> list[bytes]:
        """Until the inbox holds `count` messages and Postfix's queue is empty."""
        deadline = time.monotonic() + timeout
        while True:
            messages = self.inbox()
            if len(messages) >= count and self.queue_empty():
                return messages
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(messages)} of {count} message(s) in the bounce mailbox after {timeout}s:\n"
                                     f"{self.log_text()[-3000:]}")
            time.sleep(0.05)

    def deliveries_to(self, address: str) -> int:
        """How many delivery attempts to `address` Postfix logged (each bounce, deferral or discard)."""
        return self.log_text().count(f"to=<{address}>")


def feedback_report(original: bytes, recipient: str, to: str = BOUNCE_ADDRESS) -> bytes:
    """An RFC 5965 ARF report as a mailbox provider's feedback loop sends it: the message a user marked as spam."""
    report = MIMEMultipart("report", report_type="feedback-report")
    report["From"] = "Feedback Loop <fbl@isp.example>"
    report["To"] = to
    report["Subject"] = "Complaint about message"
    report["Date"] = formatdate()
    report["Message-ID"] = make_msgid(domain="isp.example")
    report.attach(MIMEText("This is an email abuse report for a message received from 127.0.0.1.\n"))
    fields = Message()
    fields["Content-Type"] = "message/feedback-report"
    fields.set_payload(f"Feedback-Type: abuse\nUser-Agent: ExampleFBL/1.0\nVersion: 1\n"
                       f"Original-Rcpt-To: {recipient}\nArrival-Date: {formatdate()}\n")
    report.attach(fields)
    report.attach(MIMEMessage(message_from_bytes(original)))
    return report.as_bytes(policy=email.policy.SMTP)


def auto_reply(to: str) -> bytes:
    """An out-of-office reply sent to the return path of a message (RFC 3834)."""
    message = EmailMessage(policy=email.policy.SMTP)
    message["From"] = "Reader <reader@fine.test>"
    message["To"] = to
    message["Subject"] = "Out of office: Your weekly digest"
    message["Date"] = formatdate()
    message["Message-ID"] = make_msgid(domain="fine.test")
    message["Auto-Submitted"] = "auto-replied"
    message.set_content("I am away until Monday and will read your message when I am back.\n")
    return message.as_bytes()
