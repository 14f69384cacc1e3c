"""Transactional email: an outbox table, rendering, and at-least-once delivery."""
from datetime import timedelta

from flask import Flask

from portal.mail.outbox import Attachment, Cause, EmailContent, email, queue_email, sender_domain
from portal.mail.validation import InvalidEmailError

__all__ = [
    "Attachment", "Cause", "EmailContent", "InvalidEmailError", "email", "init_app", "queue_email", "sender_domain",
]

# The lanes' Celery queues: compose runs a worker for each; `make run`'s one worker serves both.
MAIL_QUEUE = "mail"
BULK_QUEUE = "bulk"


def init_app(app: Flask) -> None:
    from portal.celery_app import register_tasks
    from portal.mail.cli import outbox_cli
    from portal.mail.views import bp as dev_mail_bp

    app.cli.add_command(outbox_cli)

    register_tasks(
        app,
        "portal.mail.tasks",
        routes={"portal.deliver_emails": {"queue": MAIL_QUEUE}, "portal.deliver_bulk_emails": {"queue": BULK_QUEUE}},
        beat={
            "sweep-outbox": {
                "task": "portal.sweep_outbox",
                "schedule": timedelta(seconds=app.config["OUTBOX_SWEEP_SECONDS"]),
            }
        },
    )
    if app.config["DEV_MAILBOX_VISIBLE"]:
        app.register_blueprint(dev_mail_bp)
    if not app.config["ORGANIZATION_POSTAL_ADDRESS"] and not (app.config["DEVELOPMENT"] or app.testing):
        # A warning, not a refusal: the portal works without it, but bulk mail to US readers
        # needs a postal address (CAN-SPAM), and nothing else would point out that it is missing.
        app.logger.warning("ORGANIZATION_POSTAL_ADDRESS is not set: digests go out without the society's "
                           "postal address in their footer, which CAN-SPAM requires.")
