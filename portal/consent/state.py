"""The consent of the visitor making this request (read once per request)."""
from flask import current_app, g, request

from portal.consent import service
from portal.consent.registry import CONSENT_COOKIE


def current_choice() -> service.ConsentChoice | None:
    if "consent_choice" not in g:
        g.consent_choice = service.read_choice(
            request.cookies.get(CONSENT_COOKIE), current_app.config["CONSENT_POLICY_VERSION"]
        )
    return g.consent_choice


def allows(category: str) -> bool:
    choice = current_choice()
    return category == "necessary" or (choice is not None and choice.allows(category))


def gpc_signal() -> bool:
    """Global Privacy Control, sent by the browser (the banner script adds the JS-side signal)."""
    return request.headers.get("Sec-GPC", "").strip() == "1"


def visitor_language() -> str:
    return (request.accept_languages.best or "und")[:35]
