"""VERP return paths: the envelope sender of each message names its outbox row.

With MAIL_BOUNCE_ADDRESS set (e.g. bounces@news.example.org), a message's MAIL
FROM is bounces+<row id>-<signature>@news.example.org, so delivery reports and
auto-replies go to the bounce mailbox instead of the human one in From, and
each names the message it is about. The signature (portal.tokens.sign_short,
a purpose of its own) makes the address verifiable and the ids of other rows
unguessable; it is lower-case base32, because some relays change the case of
a local part. Unset, the envelope sender is the From address, as before.
"""
from email.utils import parseaddr

from flask import current_app

from portal.tokens import TokenInvalid, read_short, sign_short

PURPOSE = "mail.verp"


def verp_address(email_id: int) -> str:
    """The return path naming outbox row `email_id`, under MAIL_BOUNCE_ADDRESS (which must be set)."""
    local, _, domain = current_app.config["MAIL_BOUNCE_ADDRESS"].rpartition("@")
    return f"{local}+{sign_short(PURPOSE, str(int(email_id)))}@{domain}"


def read_verp_address(address: str) -> int | None:
    """The outbox row id a return path made by verp_address names; None for any other address.

    Takes a bare address or one in angle brackets (as in a DSN's headers); local
    part and domain are compared without regard to case.
    """
    bounce = current_app.config["MAIL_BOUNCE_ADDRESS"]
    if not bounce or not isinstance(address, str):
        return None
    local, _, domain = (parseaddr(address)[1] or address.strip()).rpartition("@")
    bounce_local, _, bounce_domain = bounce.rpartition("@")
    prefix = f"{bounce_local}+".lower()
    if domain.lower() != bounce_domain.lower() or not local.lower().startswith(prefix):
        return None
    try:
        value = read_short(PURPOSE, local[len(prefix):])
    except TokenInvalid:
        return None
    return int(value) if value.isascii() and value.isdigit() else None


def envelope_sender(row) -> str:
    """MAIL FROM for an outbox row: its VERP address when MAIL_BOUNCE_ADDRESS is set, else its From."""
    if current_app.config["MAIL_BOUNCE_ADDRESS"]:
        return verp_address(row.id)
    return row.from_address
