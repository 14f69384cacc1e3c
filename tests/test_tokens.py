"""Shared signed tokens: one purpose each, an expiry, a version, and typed errors."""
import time

import pytest
from itsdangerous import TimestampSigner, URLSafeTimedSerializer

from portal.tokens import TokenClaims, TokenExpired, TokenInvalid, make_token, read_token

DAY = 24 * 3600


def test_a_token_reads_back_its_subject_and_version(app):
    with app.app_context():
        token = make_token("newsletter-confirm", 42, version=3)
        assert read_token("newsletter-confirm", token, max_age=DAY) == TokenClaims("42", 3)


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
    second = make_app(SECRET_KEY="another-key")
    with second.app_context(), pytest.raises(TokenInvalid):
        read_token("newsletter-confirm", token, max_age=DAY)
