"""Manage links: signed, expiring tokens instead of accounts.

A token carries the registration code and its token_version, signed with
SECRET_KEY under a salt used for nothing else. It expires after
REGISTRATION_MANAGE_LINK_MAX_AGE seconds (60 days by default); every email
carries a freshly signed one and "Lost your link?" sends another, so an
attendee always has a working link in their latest email. Raising a
registration's token_version revokes every link sent before.
"""
from functools import lru_cache

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from portal.registration.errors import ExpiredManageToken, TamperedManageToken

MANAGE_LINK_SALT = "registration-manage"


@lru_cache(maxsize=4)
def _serializer(secret_key: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret_key, salt=MANAGE_LINK_SALT)


def manage_payload(code: str, token_version: int) -> list:
    return [code, token_version]


def make_manage_token(code: str, token_version: int) -> str:
    return _serializer(current_app.config["SECRET_KEY"]).dumps(manage_payload(code, token_version))


def read_manage_token(token: str) -> tuple[str, int]:
    """Return (code, token_version); raise ExpiredManageToken or TamperedManageToken."""
    serializer = _serializer(current_app.config["SECRET_KEY"])
    try:
        payload = serializer.loads(token, max_age=current_app.config["REGISTRATION_MANAGE_LINK_MAX_AGE"])
    except SignatureExpired as exc:
        raise ExpiredManageToken("this link has expired") from exc
    except BadSignature as exc:
        raise TamperedManageToken("this link is not valid") from exc
    if (
        not isinstance(payload, list)
        or len(payload) != 2
        or not isinstance(payload[0], str)
        or not isinstance(payload[1], int)
    ):
        raise TamperedManageToken("this link is not valid")
    return payload[0], payload[1]
