"""Manage links: signed, expiring tokens instead of accounts (see portal.tokens).

A token carries the registration code and its token_version under a purpose
used for nothing else. It expires after REGISTRATION_MANAGE_LINK_MAX_AGE
seconds (60 days by default); every email carries a freshly signed one and
"Lost your link?" sends another, so an attendee always has a working link in
their latest email. Raising a registration's token_version revokes every link
sent before.
"""
from flask import current_app

from portal.registration.errors import ExpiredManageToken, TamperedManageToken
from portal.tokens import TokenExpired, TokenInvalid, make_token, read_token

MANAGE_LINK_PURPOSE = "registration-manage"


def make_manage_token(code: str, token_version: int) -> str:
    return make_token(MANAGE_LINK_PURPOSE, code, token_version)


def read_manage_token(token: str) -> tuple[str, int]:
    """Return (code, token_version); raise ExpiredManageToken or TamperedManageToken."""
    try:
        claims = read_token(MANAGE_LINK_PURPOSE, token, current_app.config["REGISTRATION_MANAGE_LINK_MAX_AGE"])
    except TokenExpired as exc:
        raise ExpiredManageToken("this link has expired") from exc
    except TokenInvalid as exc:
        raise TamperedManageToken("this link is not valid") from exc
    return claims.subject, claims.version


VERIFY_PURPOSE = "registration-verify-email"


def make_verify_token(code: str, token_version: int) -> str:
    return make_token(VERIFY_PURPOSE, code, token_version)


def read_verify_token(token: str) -> tuple[str, int]:
    """The "confirm your address" link: lives as long as the hold it confirms."""
    try:
        claims = read_token(VERIFY_PURPOSE, token, current_app.config["REGISTRATION_HOLD_HOURS"] * 3600)
    except TokenExpired as exc:
        raise ExpiredManageToken("this link has expired") from exc
    except TokenInvalid as exc:
        raise TamperedManageToken("this link is not valid") from exc
    return claims.subject, claims.version
