"""Build the message an outbox row stands for, with the email package's EmailMessage.

The row holds everything that was decided when the mail was queued (addresses,
subject, bodies, extra headers, Message-ID, attachments); only the Date, and
the headers that follow from the row's lane and name, are added here, at the
moment of sending. The message is serialised once (message_bytes): CRLF line
endings as SMTP carries them, raw UTF-8 headers only when an address needs
SMTPUTF8, a DKIM signature over exactly those bytes when DKIM_* is set; the
transport sends that bytes object as it is.
"""
import email
import email.policy
from email.message import EmailMessage
from email.utils import formatdate, getaddresses, parseaddr
from functools import lru_cache

import dkim
from flask import current_app

from portal.mail.models import Lane
from portal.mail.validation import check_address, check_attachment, check_header_value, check_headers

_MAX_LINE = 998  # RFC 5322's limit per line, CRLF excluded


class _WirePolicy(email.policy.EmailPolicy):
    """policy.SMTP, except that an ASCII header that fits on one line is written on one line.

    Hazard: the default folder cannot break a single long token such as the URL in
    List-Unsubscribe at 78 characters, so it would write it as RFC 2047
    encoded-words, which structured headers may not contain: mailbox providers
    would then find no unsubscribe address at all. Values were checked for line
    breaks when the row was written.
    """

    def fold_binary(self, name, value):
        if value.isascii() and len(name) + len(value) + 2 <= _MAX_LINE:
            return f"{name}: {value}{self.linesep}".encode("ascii")
        return super().fold_binary(name, value)


# CRLF as SMTP carries it; 7bit, so bodies that are not plain ASCII go quoted-printable
# (or base64), since nothing tells us the relay takes 8BITMIME.
WIRE_POLICY = _WirePolicy(linesep="\r\n", cte_type="7bit")


def build_message(row) -> EmailMessage:
    """alternative(text, html) with inline images related to the html, downloads mixed around it.

    `row` is an OutgoingEmail or anything with its columns and `attachments`.
    Raises InvalidEmailError for a row that could inject a header.
    """
    _check_row(row)
    message = EmailMessage(policy=WIRE_POLICY)
    message["Subject"] = row.subject
    message["From"] = row.from_address
    message["To"] = row.to_address
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = row.message_id
    for name, value in (row.headers or {}).items():
        message[name] = value
    _add_class_headers(message, row)
    message.set_content(row.body_text)
    message.add_alternative(row.body_html, subtype="html")
    html = message.get_payload()[1]
    for attachment in row.attachments:
        maintype, subtype, params = _content_type(attachment.content_type)
        if attachment.content_id:
            html.add_related(attachment.data, maintype, subtype, cid=f"<{attachment.content_id}>",
                             filename=attachment.filename, disposition="inline", params=params)
            html.set_param("type", "text/html")  # RFC 2387: the root part's type
        else:
            message.add_attachment(attachment.data, maintype, subtype, filename=attachment.filename, params=params)
    return message


def _add_class_headers(message: EmailMessage, row) -> None:
    """What mailbox providers read to tell mail kinds apart, from the row's lane and name.

    Transactional mail is Auto-Submitted (RFC 3834), so out-of-office replies and the
    like are not sent back to it; bulk mail carries a Feedback-ID (Google's
    "a:b:c:SenderId"): kind, lane, the portal and the sending domain, nothing personal,
    so a provider's complaint feedback can be told apart by mail kind.
    """
    if row.lane == Lane.BULK.value:
        if "Feedback-ID" not in message:
            message["Feedback-ID"] = f"{row.name}:{row.lane}:summit-portal:{_domain(row.from_address)}"
    elif "Auto-Submitted" not in message:
        message["Auto-Submitted"] = "auto-generated"


def _domain(address: str) -> str:
    domain = parseaddr(address)[1].rpartition("@")[2].lower()
    return domain if domain.isascii() else domain.encode("idna").decode("ascii")


#: What a DKIM signature covers, of the headers a message has: what mailbox providers check,
#: the unsubscribe headers included, so none can be changed or added on the way unnoticed.
DKIM_HEADERS = (
    "From", "To", "Subject", "Date", "Message-ID", "MIME-Version", "Content-Type", "List-Unsubscribe",
    "List-Unsubscribe-Post", "List-Id", "Feedback-ID", "Auto-Submitted",
)


def message_bytes(row) -> bytes:
    """The message exactly as it goes over SMTP, DKIM-signed when DKIM_PRIVATE_KEY is set.

    Byte-exact signing: the EmailMessage is serialised once, here; dkimpy signs
    those bytes, its DKIM-Signature header is put in front of them, and the
    transport hands the resulting bytes object to smtplib's sendmail (or the
    development Maildir) unchanged; sendmail only dot-stuffs lines, which the
    receiving server undoes. smtplib's send_message is not used: it serialises
    the EmailMessage again, and that two serialisations agree byte for byte
    (multipart boundaries, header folding) would rest on the email package's
    internals rather than on anything this code can show.
    An address that needs SMTPUTF8 is written as raw UTF-8 (the transport then
    asks the server for SMTPUTF8).
    """
    message = build_message(row)
    data = message.as_bytes(policy=WIRE_POLICY.clone(utf8=True) if needs_smtputf8(row) else WIRE_POLICY)
    config = current_app.config
    if not config["DKIM_PRIVATE_KEY"]:
        return data
    signature = dkim.sign(
        data, config["DKIM_SELECTOR"].encode("ascii"), config["DKIM_DOMAIN"].encode("ascii"),
        dkim_private_key(config["DKIM_PRIVATE_KEY"]),
        # relaxed/relaxed: a relay that refolds a header or trims trailing spaces breaks nothing.
        canonicalize=(b"relaxed", b"relaxed"),
        include_headers=[name.lower().encode("ascii") for name in DKIM_HEADERS if name in message],
        linesep=b"\r\n",
    )
    return signature + data


@lru_cache(maxsize=4)
def dkim_private_key(path: str) -> bytes:
    """The PEM key, read once per process (start-up checked that it can be read and signs)."""
    with open(path, "rb") as key_file:
        return key_file.read()


def parsed_message(row) -> EmailMessage:
    """The message as a mail client reads it (parsed back from the wire bytes), for inspection."""
    return email.message_from_bytes(message_bytes(row), policy=email.policy.default)


def needs_smtputf8(row) -> bool:
    """True when an address itself (not just a display name) has non-ASCII characters."""
    if (row.from_address + row.to_address).isascii():
        return False
    return not all(address.isascii() for _, address in getaddresses([row.from_address, row.to_address]))


def _check_row(row) -> None:
    # queue_email already refused these; rows written any other way are checked here.
    check_address("sender", row.from_address)
    check_address("recipient", row.to_address)
    check_header_value("subject", row.subject)
    check_header_value("message id", row.message_id)
    check_headers(row.headers or {})
    for attachment in row.attachments:
        check_attachment(attachment.filename, attachment.content_type, attachment.content_id)


def _content_type(value: str) -> tuple[str, str, dict]:
    """Type, subtype and parameters of an attachment's content type, e.g. a calendar's charset and method."""
    header = EmailMessage()
    header["Content-Type"] = value
    return header.get_content_maintype(), header.get_content_subtype(), dict(header["Content-Type"].params)
