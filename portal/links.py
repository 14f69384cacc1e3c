"""Absolute links for emails, calendar files and feeds.

Built from PORTAL_BASE_URL, so the same call works in a request, a CLI
command and a Celery task. When PORTAL_BASE_URL is unset (development), a
request's own scheme, host and port are used — the forwarded ones only when
TRUSTED_PROXIES says a proxy is in front — and outside a request the
development address (or, in a task working for a request, that
request's address: `links_based_on`).
"""
from contextlib import contextmanager
from urllib.parse import urlsplit

from flask import current_app, g, has_app_context, has_request_context, request

DEVELOPMENT_BASE_URL = "http://127.0.0.1:5000"


def base_url() -> str:
    configured = current_app.config["PORTAL_BASE_URL"]
    if configured:
        return configured
    if has_app_context() and g.get("links_base_url"):
        return g.links_base_url
    if has_request_context():
        return request.host_url.rstrip("/")
    return DEVELOPMENT_BASE_URL


@contextmanager
def links_based_on(url: str | None):
    """Build links from `url` inside the block when PORTAL_BASE_URL is unset.

    For work deferred to a task on behalf of a request: the task passes the
    request's base_url() along, so a development portal on another port still
    mails links to itself.
    """
    previous = g.get("links_base_url")
    g.links_base_url = url
    try:
        yield
    finally:
        g.links_base_url = previous


def absolute_url(endpoint: str, _anchor: str | None = None, **values) -> str:
    base = urlsplit(base_url())
    adapter = current_app.url_map.bind(base.netloc, script_name=base.path or "/", url_scheme=base.scheme)
    url = adapter.build(endpoint, values, force_external=True)
    return f"{url}#{_anchor}" if _anchor else url


def portal_host() -> str:
    """The portal's host name, for Message-IDs, calendar UIDs and inline-image ids."""
    return urlsplit(base_url()).hostname or "portal.localhost"
