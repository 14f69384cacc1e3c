"""Friendly error pages with the right status codes."""
from flask import Flask, render_template
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

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


def init_app(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def _csrf_error(exc):
        return render_error(
            400,
            "Your form session expired",
            "For your security, forms expire after a while. Please reload the page and submit again.",
        )

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        if exc.code is None or exc.code < 400:
            return exc
        return render_error(exc.code)
