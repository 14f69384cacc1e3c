"""Absolute links for emails, calendar files and feeds.

Built from PORTAL_BASE_URL rather than from the request, so the same call
works in a request, a CLI command and a Celery task, and an email never
carries whatever Host header a visitor sent.
"""
from urllib.parse import urlsplit

from flask import current_app


def absolute_url(endpoint: str, _anchor: str | None = None, **values) -> str:
    base = urlsplit(current_app.config["PORTAL_BASE_URL"])
    adapter = current_app.url_map.bind(base.netloc, script_name=base.path or "/", url_scheme=base.scheme)
    url = adapter.build(endpoint, values, force_external=True)
    return f"{url}#{_anchor}" if _anchor else url


def portal_host() -> str:
    """The portal's host name, for Message-IDs, calendar UIDs and inline-image ids."""
    return urlsplit(current_app.config["PORTAL_BASE_URL"]).hostname or "portal.localhost"
