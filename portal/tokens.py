"""Signed links instead of accounts: purpose-salted, versioned, expiring tokens.

A token carries a subject (e.g. a registration code or a subscriber id) and the
subject's token version, signed with SECRET_KEY under a salt that names its
purpose. A token made for one purpose never verifies for another, so a
double-opt-in link cannot unsubscribe and a manage link cannot confirm.
Storing a version next to the subject and raising it revokes every token
issued before; comparing the versions is the caller's job, because only the
caller knows where the subject's current version lives.
"""
from dataclasses import dataclass
from functools import lru_cache

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer


class TokenError(Exception):
    """A token that cannot be used; the subclasses say why."""


class TokenInvalid(TokenError):
    """Tampered with, truncated, or made for another purpose."""


class TokenExpired(TokenError):
    """Correctly signed, but older than the purpose allows."""


@dataclass(frozen=True)
class TokenClaims:
    subject: str
    version: int


@lru_cache(maxsize=32)
def _serializer(secret_key: str, purpose: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret_key, salt=purpose)


def make_token(purpose: str, subject: str | int, version: int = 1) -> str:
    return _serializer(current_app.config["SECRET_KEY"], purpose).dumps([str(subject), int(version)])


def read_token(purpose: str, token: str, max_age: float) -> TokenClaims:
    """Verify signature, purpose and age; raise TokenExpired or TokenInvalid."""
    serializer = _serializer(current_app.config["SECRET_KEY"], purpose)
    try:
        payload = serializer.loads(token, max_age=max_age)
    except SignatureExpired as exc:
        raise TokenExpired(purpose) from exc
    except BadSignature as exc:
        raise TokenInvalid(purpose) from exc
    if (
        not isinstance(payload, list)
        or len(payload) != 2
        or not isinstance(payload[0], str)
        or type(payload[1]) is not int
    ):
        raise TokenInvalid(purpose)
    return TokenClaims(subject=payload[0], version=payload[1])


def sign_value(purpose: str, value) -> str:
    """Sign any JSON value (e.g. a cookie's contents) for one purpose."""
    return _serializer(current_app.config["SECRET_KEY"], purpose).dumps(value)


def read_signed_value(purpose: str, signed: str, max_age: float):
    """The value `sign_value` signed; raise TokenExpired or TokenInvalid."""
    try:
        return _serializer(current_app.config["SECRET_KEY"], purpose).loads(signed, max_age=max_age)
    except SignatureExpired as exc:
        raise TokenExpired(purpose) from exc
    except BadSignature as exc:
        raise TokenInvalid(purpose) from exc
