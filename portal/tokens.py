"""Signed links instead of accounts: purpose-salted, versioned, expiring tokens.

A token carries a subject (e.g. a registration code or a subscriber id) and the
subject's token version, signed with SECRET_KEY under a salt that names its
purpose. A token made for one purpose never verifies for another, so a
double-opt-in link cannot unsubscribe and a manage link cannot confirm.
Storing a version next to the subject and raising it revokes every token
issued before; comparing the versions is the caller's job, because only the
caller knows where the subject's current version lives.
"""
import base64
import hmac
import json
import time
from dataclasses import dataclass
from functools import lru_cache

from flask import current_app
from itsdangerous import (
    BadData, BadSignature, SignatureExpired, TimestampSigner, URLSafeTimedSerializer, base64_decode, base64_encode,
    want_bytes,
)


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


class _KeyCachingSigner(TimestampSigner):
    """A TimestampSigner that derives each HMAC key once instead of on every sign and check.

    itsdangerous derives the key from the secret and the salt each time, and a
    serializer even builds a new signer per call; the key depends only on those
    inputs, so it is kept here (a few purposes times the configured secrets).
    """

    _derived_keys: dict[tuple, bytes] = {}

    def derive_key(self, secret_key: str | bytes | None = None) -> bytes:
        secret = self.secret_keys[-1] if secret_key is None else want_bytes(secret_key)
        cache_key = (secret, self.salt, self.key_derivation, self.digest_method)
        key = self._derived_keys.get(cache_key)
        if key is None:
            key = self._derived_keys[cache_key] = super().derive_key(secret)
        return key


@lru_cache(maxsize=32)
def _serializer(secret_key: str, purpose: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret_key, salt=purpose, signer=_KeyCachingSigner)


@lru_cache(maxsize=32)
def _timestamp_signer(secret_key: str, purpose: str) -> TimestampSigner:
    return _KeyCachingSigner(secret_key, salt=purpose)


def make_token(purpose: str, subject: str | int, version: int = 1) -> str:
    """What the purpose's URLSafeTimedSerializer.dumps gives, made directly.

    The serializer builds a signer and tries zlib on every call; a token's few
    bytes never compress, so the result is the plain base64url JSON it would
    have chosen anyway (tests compare the two). Digests make two per reader.
    """
    payload = json.dumps([str(subject), int(version)], ensure_ascii=False, separators=(",", ":"))
    return _timestamp_signer(current_app.config["SECRET_KEY"], purpose).sign(base64_encode(payload)).decode("ascii")


def read_token(purpose: str, token: str, max_age: float | None) -> TokenClaims:
    """Verify signature, purpose and age (none with max_age None); raise TokenExpired or TokenInvalid."""
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


@lru_cache(maxsize=32)
def _value_key(secret_key: str, purpose: str) -> bytes:
    """One HMAC key per purpose, so a value signed for one purpose never verifies for another."""
    return hmac.digest(secret_key.encode(), b"portal.signed-value:" + purpose.encode(), "sha256")


def sign_value(purpose: str, value) -> str:
    """Sign any JSON value (e.g. a cookie's contents) for one purpose, with the time of signing.

    Plain HMAC-SHA256 over base64url JSON rather than an itsdangerous serializer: a
    cookie is signed and checked on every consent POST, and the serializer rebuilds
    its signer, re-derives its key and tries to compress a few dozen bytes each time.
    """
    payload = base64_encode(json.dumps([int(time.time()), value], separators=(",", ":")))
    mac = hmac.digest(_value_key(current_app.config["SECRET_KEY"], purpose), payload, "sha256")
    return (payload + b"." + base64_encode(mac)).decode("ascii")


def read_signed_value(purpose: str, signed: str, max_age: float):
    """The value `sign_value` signed; raise TokenExpired or TokenInvalid."""
    try:
        payload, _, mac = signed.encode("ascii").rpartition(b".")
        expected = base64_encode(hmac.digest(_value_key(current_app.config["SECRET_KEY"], purpose), payload, "sha256"))
        if not hmac.compare_digest(mac, expected):
            raise TokenInvalid(purpose)
        signed_at, value = json.loads(base64_decode(payload))
    except (UnicodeError, BadData, ValueError, TypeError) as exc:  # not ASCII, bad base64, not JSON, not a pair
        raise TokenInvalid(purpose) from exc
    if type(signed_at) is not int:
        raise TokenInvalid(purpose)
    # A little slack for clocks of several servers; a value "from the future" beyond it is forged or broken.
    if not -60 <= time.time() - signed_at <= max_age:
        raise TokenExpired(purpose)
    return value


#: Signature characters kept by sign_short: 16 base32 characters are 80 bits, far beyond guessing
#: when every guess costs an email to a mailbox that only counts what it can verify.
SHORT_SIGNATURE_LENGTH = 16


def _short_signature(purpose: str, value: str) -> str:
    mac = hmac.digest(_value_key(current_app.config["SECRET_KEY"], purpose), value.encode("utf-8"), "sha256")
    return base64.b32encode(mac).decode("ascii").lower()[:SHORT_SIGNATURE_LENGTH]


def sign_short(purpose: str, value: str) -> str:
    """`value` + "-" + a truncated HMAC of it for one purpose, in lower-case base32; no expiry.

    For places that take a few characters only and may change their case, such as
    the local part of an email address (a VERP return path): letters, digits and
    one "-" besides what `value` brings, where a token from make_token would be
    three times as long and case-sensitive.
    """
    return f"{value}-{_short_signature(purpose, value)}"


def read_short(purpose: str, signed: str) -> str:
    """The value `sign_short` signed for this purpose (its case as signed); raise TokenInvalid."""
    value, _, signature = signed.rpartition("-")
    if not value or not hmac.compare_digest(signature.lower().encode("ascii", "replace"),
                                            _short_signature(purpose, value).encode("ascii")):
        raise TokenInvalid(purpose)
    return value
