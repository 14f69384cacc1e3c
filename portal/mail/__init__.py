"""Transactional email: an outbox table, rendering, and at-least-once delivery."""
from portal.mail.outbox import Attachment, email, queue_email
from portal.mail.validation import InvalidEmailError

__all__ = ["Attachment", "InvalidEmailError", "email", "queue_email"]
