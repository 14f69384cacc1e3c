"""Absolute links for emails, calendar files and feeds, and the one check on where `next=` may lead.

Built from PORTAL_BASE_URL, so the same call works in a request, a CLI
command and a Celery task. When PORTAL_BASE_URL is unset (development), a
request's own scheme, host and port are used — the forwarded ones only when
TRUSTED_PROXIES says a proxy is in front — and outside a request the
development address (or, in a task working for a request, that
request's address: `links_based_on`).
"""
import re
from contextlib import contextmanager
from urllib.parse import unquote, urlsplit

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


#: Browsers drop these from anywhere in a URL before parsing it (WHATWG URL standard).
_TAB_OR_NEWLINE = re.compile(r"[\t\n\r]")
#: ...and trim C0 controls and spaces from both ends.
_C0_CONTROL_OR_SPACE = "".join(chr(code) for code in range(0x21))
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def safe_redirect_path(target: str | None, within: str = "/") -> str | None:
    """`target` as a browser would follow it, if that is a path on this site under `within`; else None.

    The one check for every `next=` the portal follows. It reads the value the way a
    browser reads a Location header, so nothing can look like a path here and lead
    elsewhere there: tabs and newlines are dropped wherever they are, controls and
    spaces trimmed at the ends, backslashes count as slashes (so "/\\evil.example" and
    "/<tab>/evil.example" are "//evil.example", another host), and a scheme or host refuses
    it. Dot segments (also percent-encoded) would climb out of `within`, so they refuse it
    too. The path is returned as cleaned, so the header says what the browser will do.
    """
    if not target:
        return None
    cleaned = _TAB_OR_NEWLINE.sub("", target.strip(_C0_CONTROL_OR_SPACE)).replace("\\", "/")
    if not cleaned.startswith("/") or cleaned.startswith("//") or _CONTROL.search(cleaned):
        return None
    parts = urlsplit(cleaned)
    if parts.scheme or parts.netloc:
        return None
    if any(segment in (".", "..") for segment in unquote(parts.path).split("/")):
        return None
    scope = within.rstrip("/")
    if scope and parts.path != scope and not parts.path.startswith(scope + "/"):
        return None
    return cleaned
