"""Friendly error pages with the right status codes."""
import re
from urllib.parse import urlsplit

from flask import Flask, render_template, request
from flask_wtf.csrf import CSRFError, generate_csrf
from sqlalchemy.exc import DBAPIError
from werkzeug.exceptions import HTTPException

from portal.database import is_connection_lost
from portal.extensions import db

MESSAGES = {
    400: ("Something in that request was not right", "Please go back, reload the page and try again."),
    403: ("You cannot open this page", "If you followed a link, it may have been changed or it has expired."),
    404: ("Page not found", "The page you asked for does not exist or has moved."),
    405: ("That action is not allowed here", "Please use the form on the page instead."),
    413: ("That was too much data", "Please shorten what you entered and try again."),
    429: ("Too many attempts", "You have sent a lot of requests in a short time. Please wait a minute and try again."),
    500: ("Something went wrong on our side", "The error has been logged. Please try again in a moment."),
    503: ("We are busy right now", "Please try again in a moment."),
}


def render_error(status: int, title: str | None = None, message: str | None = None):
    default_title, default_message = MESSAGES.get(status, MESSAGES[500])
    return (
        render_template("error.html", status=status, title=title or default_title, message=message or default_message),
        status,
    )


#: Seconds a visitor is asked to wait after the database connection was lost (Retry-After).
DATABASE_RETRY_AFTER_SECONDS = 5


def database_connection_lost(exc: DBAPIError):
    """A request whose database connection died (a restart, a failover, a terminated backend): 503, try again.

    The pool replaces the connection, and the transaction ended with it (a
    transaction is written whole or not at all). Any other database error is
    raised again, to be logged and answered as a 500.
    """
    if not is_connection_lost(exc):
        raise exc
    db.session.rollback()  # so that rendering the page may use the session again
    body, status = render_error(503)
    return body, status, {"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)}


def _close_session_after_lost_connection(_exc) -> None:
    """End the request's session here, where a connection that died after the page was made is no 500.

    Closing rolls back what the request left open (reads, as a rule), and on a
    connection the server has already terminated that ROLLBACK raises; Flask-
    SQLAlchemy's own teardown would let it escape after the response was made.
    SQLAlchemy has discarded the connection by then; the session is closed and usable.
    """
    try:
        db.session.close()
    except DBAPIError as exc:
        if not is_connection_lost(exc):
            raise


def init_app(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def _csrf_error(exc):
        return render_csrf_refusal(exc.description)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        if exc.code is None or exc.code < 400:
            return exc
        return render_error(exc.code)

    app.register_error_handler(DBAPIError, database_connection_lost)
    app.teardown_request(_close_session_after_lost_connection)


# Flask-WTF says why it refused a form in CSRFError.description; these two mean the browser
# did not show that the form came from one of our own pages (Referer, checked over HTTPS).
_NO_ORIGIN = "The referrer header is missing."
_FOREIGN_ORIGIN = "The referrer does not match the host."
# Typed values never carried back into a page: passwords and one-time codes are retyped.
_NOT_KEPT = re.compile(r"(^|[-_])(csrf_token|password\w*|new_password|confirm\w*|secret|token|code)$")
_KEPT_FIELDS_MAX = 60


def render_csrf_refusal(reason: str):
    """Say what happened to a refused form, and offer to send what was typed again when it is safe.

    Sending again is offered only when the browser itself says the form came from this site
    (Origin or Referer): a form posted from another site is never turned into one of ours.
    """
    if reason == _FOREIGN_ORIGIN:
        title = "This form came from another site"
        message = ("We only accept forms sent from this site's own pages, so nothing was changed. "
                   "If you meant to do this, open the page on this site and send the form there.")
    elif reason == _NO_ORIGIN:
        title = "Your browser did not say where this form came from"
        message = ("For your security we only accept forms that the browser shows were sent from this "
                   "site's own pages, and this one came without that information, so nothing was changed. "
                   "A privacy setting or extension that removes the Referer header can cause this: allow it "
                   "for this site, or use another browser.")
    else:
        title = "Your form session expired"
        message = ("For your security, forms stop working after a few hours or when your browser's session "
                   "with this site ends, so nothing was changed.")
    kept = _typed_fields() if reason not in (_NO_ORIGIN, _FOREIGN_ORIGIN) and _sent_from_here() else None
    html = render_template("csrf_error.html", status=400, title=title, message=message, kept=kept,
                           csrf_value=generate_csrf() if kept is not None else None,
                           retype_secrets=kept is not None and _had_secrets())
    return html, 400, {"Cache-Control": "no-store"}


def _sent_from_here() -> bool:
    """True when the browser's Origin (or, lacking it, Referer) is this very site."""
    source = request.headers.get("Origin") or request.referrer
    if not source or source == "null":
        return False
    sent, here = urlsplit(source), urlsplit(request.host_url)
    return (sent.scheme, sent.netloc) == (here.scheme, here.netloc)


def _typed_fields() -> dict | None:
    """The form's text fields as typed, for a form that sends them again; None for uploads or huge forms."""
    if request.files or len(request.form) > _KEPT_FIELDS_MAX:
        return None
    kept = {name: values for name, values in request.form.lists() if not _NOT_KEPT.search(name)}
    token_names = [name for name in request.form if name.endswith("csrf_token")]
    return {"action": request.full_path.rstrip("?"), "fields": kept,
            "token_name": token_names[0] if token_names else "csrf_token"}


def _had_secrets() -> bool:
    return any(_NOT_KEPT.search(name) and not name.endswith("csrf_token") for name in request.form)
