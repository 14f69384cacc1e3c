"""The newsletter's signed links: one purpose each (see portal.tokens).

A confirmation link cannot open the preference page or unsubscribe, and an
unsubscribe link cannot confirm: each purpose is its own salt. Every token
carries the subscriber's token_version, which erasure raises.

Unsubscribe links never expire by age: a mailbox provider may press the
one-click button of a digest years old, and the reader must still get out.
Erasure (the version) revokes them; the other links keep an age limit.
"""
from flask import current_app

from portal.tokens import TokenClaims, make_token, read_token

CONFIRM = "newsletter-confirm"
PREFERENCES = "newsletter-preferences"
UNSUBSCRIBE = "newsletter-unsubscribe"


def _max_age(purpose: str) -> int | None:
    if purpose == CONFIRM:
        return current_app.config["NEWSLETTER_CONFIRM_LINK_MAX_AGE"]
    if purpose == UNSUBSCRIBE:
        return None
    return current_app.config["NEWSLETTER_LINK_MAX_AGE"]


def make_subscriber_token(purpose: str, subscriber) -> str:
    return make_token(purpose, subscriber.id, subscriber.token_version)


def read_subscriber_token(purpose: str, token: str) -> TokenClaims:
    """Raise portal.tokens.TokenExpired or TokenInvalid."""
    return read_token(purpose, token, _max_age(purpose))
