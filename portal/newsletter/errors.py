"""What the newsletter service refuses, as types the views turn into pages."""


class NewsletterLinkError(Exception):
    """A link that cannot be used; `status` is the page's status code."""

    status = 400


class ExpiredLink(NewsletterLinkError):
    status = 410


class InvalidLink(NewsletterLinkError):
    """Tampered with, made for another purpose, or for a subscriber who erased their data."""

    status = 400


class InvalidPreferences(ValueError):
    """A preference change the form should have refused (e.g. an unknown topic)."""
