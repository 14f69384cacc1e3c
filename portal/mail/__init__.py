"""Transactional email: an outbox table, rendering, and at-least-once delivery."""
from portal.mail.outbox import Attachment, email, queue_email

__all__ = ["Attachment", "email", "queue_email"]
