"""The newsletter: double opt-in signups, a preference centre, one-click unsubscribe and data rights."""
import ipaddress
from urllib.parse import urlsplit

from flask import Flask


def init_app(app: Flask) -> None:
    from portal.deferred.service import register_handler
    from portal.newsletter import service
    from portal.newsletter.views import bp

    app.register_blueprint(bp)
    register_handler(service.SIGNUP_REQUEST, service.handle_signup_request)
    register_handler(service.MANAGE_LINK_REQUEST, service.handle_manage_link_request)
    _warn_without_one_click(app)


def _warn_without_one_click(app: Flask) -> None:
    """Say at start-up that an http:// PORTAL_BASE_URL costs the mail its one-click unsubscribe.

    RFC 8058 allows List-Unsubscribe-Post only with https, so such a portal
    leaves it out (see emails.list_headers). A development portal on a
    loopback address is expected to be on http and is not warned about.
    """
    base = urlsplit(app.config["PORTAL_BASE_URL"])
    if base.scheme != "http" or app.config["DEVELOPMENT"] or _is_loopback(base.hostname or ""):
        return
    app.logger.warning(
        "PORTAL_BASE_URL is %s, not https: newsletter mail goes out without List-Unsubscribe-Post, "
        "so mailbox providers offer no one-click unsubscribe (RFC 8058 requires https).",
        app.config["PORTAL_BASE_URL"],
    )


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost" or host.endswith(".localhost")
