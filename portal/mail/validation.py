"""Refuse anything that could end up as an extra header line in an outgoing email.

A line break inside a header value starts a new header: a recipient typed as
"ada@example.org\\r\\nBcc: ..." would add a recipient of its own. `queue_email`
checks everything it is given before it writes a row, and the delivery service
checks every row again before it builds a message, because rows can also be
written by other code.
"""
import functools
import unicodedata
import re
from email.utils import getaddresses

# Every character str.splitlines() breaks on (the email package splits header
# values the same way), plus NUL, which SMTP servers truncate at.
_LINE_BREAK = re.compile("[\r\n\v\f\x1c\x1d\x1e\x85\u2028\u2029\x00]")

# Headers the outbox sets itself; a caller-supplied copy would duplicate them.
# Cc and Bcc are refused too: the envelope only ever names `to`, so they would
# be shown to the reader without being delivered.
RESERVED_HEADERS = frozenset(
    {"from", "to", "cc", "bcc", "subject", "date", "message-id", "mime-version", "sender"}
)


# RFC 5322 field name: printable ASCII except the colon.
_HEADER_NAME = re.compile(r"[!-9;-~]+")

# A bare address (no display name, nothing quoted) is one mailbox by
# construction, so the full parser can be skipped for the common case.
_BARE_ADDRESS = re.compile(r'[^\s<>@,;:"()\[\]\\]+@[^\s<>@,;:"()\[\]\\]+')


class InvalidEmailError(ValueError):
    """The email cannot be queued or built as given; the message names the field and why."""


def check_header_value(field: str, value: str) -> str:
    if not isinstance(value, str):
        raise InvalidEmailError(f"{field} must be text, not {type(value).__name__}")
    if _LINE_BREAK.search(value):
        raise InvalidEmailError(f"{field} contains a line break, which would start a new header")
    return value


def check_header_name(name: str) -> str:
    if not _HEADER_NAME.fullmatch(name):
        raise InvalidEmailError(f"header name {name!r} is not a valid header field name")
    if name.lower() in RESERVED_HEADERS or name.lower().startswith("content-"):
        raise InvalidEmailError(f"header {name!r} is set by the outbox and cannot be supplied")
    return name


def is_bare_address(value: str) -> bool:
    return _BARE_ADDRESS.fullmatch(value) is not None


def check_address(field: str, value: str) -> str:
    """One mailbox, optionally with a display name ("Ada <ada@example.org>")."""
    check_header_value(field, value)
    if not (is_bare_address(value) or _single_mailbox(value)):
        raise InvalidEmailError(f"{field} {value!r} is not exactly one email address")
    return value


@functools.lru_cache(maxsize=256)  # the sender is the same on every row
def _single_mailbox(value: str) -> bool:
    addresses = getaddresses([value])
    return len(addresses) == 1 and "@" in addresses[0][1]


def check_headers(headers: dict) -> dict:
    for name, value in headers.items():
        check_header_name(name)
        check_header_value(f"header {name}", value)
    return headers


def check_attachment(filename: str, content_type: str, content_id: str | None) -> None:
    check_header_value("attachment filename", filename)
    check_header_value("attachment content type", content_type)
    maintype, slash, subtype = content_type.partition("/")
    if not (maintype and slash and subtype):
        raise InvalidEmailError(f"attachment content type {content_type!r} is not type/subtype")
    if content_id is not None:
        check_header_value("attachment content id", content_id)
        if not content_id or any(char in content_id for char in "<> "):
            raise InvalidEmailError(f"content id {content_id!r} must be a bare id such as 'logo'")


def address_key(address: str) -> str:
    """The form of an address that lookups and unique indexes compare.

    NFC first, so "josé" typed with a combining accent is the same address as
    "josé" typed with a precomposed é; then case folding, because mailbox
    providers treat local parts case-insensitively in practice.
    """
    return unicodedata.normalize("NFC", address.strip()).casefold()
