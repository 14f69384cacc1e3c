"""Take a visitor's signup or "email me my link" request (see portal.deferred).

Views and registration's opt-in call these in their own transaction. The
request does the same work whoever the address belongs to, so neither the
answer nor its timing tells a visitor who is subscribed; the handlers in
service.py decide and mail after the commit.
"""
from portal.deferred.intake import defer_request
from portal.newsletter.models import SignupSource
from portal.newsletter.service import MANAGE_LINK_REQUEST, SIGNUP_REQUEST, Preferences


def request_signup(email: str, first_name: str, preferences: Preferences, source: SignupSource) -> None:
    defer_request(SIGNUP_REQUEST, email, {
        "first_name": first_name, "source": source.value, "topics": list(preferences.topics),
        "wants_events": preferences.wants_events, "frequency": preferences.frequency,
    })


def request_manage_link(email: str) -> None:
    defer_request(MANAGE_LINK_REQUEST, email)
