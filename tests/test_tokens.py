"""Shared signed tokens: one purpose each, an expiry, a version, and typed errors."""
import time

import pytest
from itsdangerous import TimestampSigner, URLSafeTimedSerializer

from portal.tokens import (
    TokenClaims, TokenExpired, TokenInvalid, make_token, read_signed_value, read_token, sign_value,
)

DAY = 24 * 3600


def test_a_token_reads_back_its_subject_and_version(app):
    with app.app_context():
        token = make_token("newsletter-confirm", 42, version=3)
        assert read_token("newsletter-confirm", token, max_age=DAY) == TokenClaims("42", 3)


@pytest.mark.parametrize("subject, version", [(42, 1), ("R7K2-QX9P", 12), ("zoë-ünïcode", 3)])
def test_a_token_is_exactly_what_the_serializer_would_make(app, subject, version, monkeypatch):
    monkeypatch.setattr(time, "time", lambda: 1_800_000_000.0)
    with app.app_context():
        serializer = URLSafeTimedSerializer(app.config["SECRET_KEY"], salt="newsletter-confirm")
        assert make_token("newsletter-confirm", subject, version) == serializer.dumps([str(subject), version])


def test_a_long_subject_the_serializer_would_compress_still_reads_back(app):
    with app.app_context():
        token = make_token("newsletter-confirm", "9" * 400, 2)
        assert read_token("newsletter-confirm", token, max_age=DAY) == TokenClaims("9" * 400, 2)


def test_a_token_made_for_one_purpose_is_invalid_for_another(app):
    with app.app_context():
        token = make_token("newsletter-confirm", 42)
        with pytest.raises(TokenInvalid):
            read_token("newsletter-unsubscribe", token, max_age=DAY)


def test_a_changed_character_makes_a_token_invalid(app):
    with app.app_context():
        token = make_token("newsletter-confirm", 42)
        # The first character is payload (the last one may only carry base64 padding bits).
        tampered = ("A" if token[0] != "A" else "B") + token[1:]
        with pytest.raises(TokenInvalid):
            read_token("newsletter-confirm", tampered, max_age=DAY)


def test_an_old_token_is_expired(app):
    class EightDaysAgo(TimestampSigner):
        def get_timestamp(self):
            return int(time.time()) - 8 * DAY

    with app.app_context():
        old = URLSafeTimedSerializer(app.config["SECRET_KEY"], salt="newsletter-confirm", signer=EightDaysAgo)
        with pytest.raises(TokenExpired):
            read_token("newsletter-confirm", old.dumps(["42", 1]), max_age=7 * DAY)


@pytest.mark.parametrize("payload", [["42"], ["42", "1"], [42, 1], {"subject": "42"}, ["42", True]])
def test_a_correctly_signed_but_misshapen_payload_is_invalid(app, payload):
    with app.app_context():
        serializer = URLSafeTimedSerializer(app.config["SECRET_KEY"], salt="newsletter-confirm")
        with pytest.raises(TokenInvalid):
            read_token("newsletter-confirm", serializer.dumps(payload), max_age=DAY)


def test_a_token_signed_with_another_key_is_invalid(make_app):
    first = make_app()
    with first.app_context():
        token = make_token("newsletter-confirm", 42)
    second = make_app(SECRET_KEY="another-secret-key-of-at-least-32-bytes")
    with second.app_context(), pytest.raises(TokenInvalid):
        read_token("newsletter-confirm", token, max_age=DAY)


def test_a_signed_value_reads_back_for_its_purpose_only(app):
    with app.app_context():
        signed = sign_value("consent-cookie", {"granted": ["analytics"], "v": "2026-1"})
        assert read_signed_value("consent-cookie", signed, max_age=DAY) == {"granted": ["analytics"], "v": "2026-1"}
        with pytest.raises(TokenInvalid):
            read_signed_value("another-cookie", signed, max_age=DAY)


@pytest.mark.parametrize("tamper", [
    lambda signed: ("A" if signed[0] != "A" else "B") + signed[1:],
    lambda signed: signed[:-2],
    lambda signed: signed.replace(".", ""),
    lambda signed: "é" + signed,
    lambda signed: "",
])
def test_a_changed_or_broken_signed_value_is_invalid(app, tamper):
    with app.app_context():
        signed = sign_value("consent-cookie", ["analytics"])
        with pytest.raises(TokenInvalid):
            read_signed_value("consent-cookie", tamper(signed), max_age=DAY)


def test_a_signed_value_older_than_its_max_age_is_expired(app, monkeypatch):
    with app.app_context():
        monkeypatch.setattr(time, "time", lambda: 1_800_000_000.0)
        signed = sign_value("consent-cookie", ["analytics"])
        monkeypatch.setattr(time, "time", lambda: 1_800_000_000.0 + 8 * DAY)
        with pytest.raises(TokenExpired):
            read_signed_value("consent-cookie", signed, max_age=7 * DAY)


def test_a_signed_value_from_another_key_is_invalid(make_app):
    with make_app().app_context():
        signed = sign_value("consent-cookie", ["analytics"])
    with make_app(SECRET_KEY="another-secret-key-of-at-least-32-bytes").app_context(), pytest.raises(TokenInvalid):
        read_signed_value("consent-cookie", signed, max_age=DAY)
