"""Deliverability: bounces and complaints read back from the bounce mailbox, and the suppression list."""
from datetime import timedelta

from flask import Flask


def init_app(app: Flask) -> None:
    from portal.deliverability import service
    from portal.mail.delivery import register_refusal_listener
    from portal.mail.models import Lane
    from portal.mail.withhold import register_lane_check

    # Bulk mail skips suppressed addresses at send time; transactional mail, which the
    # person caused themselves, is still attempted.
    register_lane_check(Lane.BULK.value, service.withhold_suppressed)
    register_refusal_listener(service.record_refusal)

    from portal.celery_app import DEFAULT_QUEUE, register_tasks
    from portal.deliverability.cli import bounces_cli
    from portal.deliverability.intake import source_configured

    # The bounce mailbox: `flask bounces poll`, and beat's poll when a mailbox is configured.
    app.cli.add_command(bounces_cli)
    beat = {}
    if source_configured(app.config):
        every = app.config["BOUNCE_POLL_SECONDS"]
        # A poll beat could not start within one interval is dropped: the next one does its work.
        beat["poll-bounce-mailbox"] = {"task": "portal.deliverability.poll_bounce_mailbox",
                                       "schedule": timedelta(seconds=every), "options": {"expires": every}}
    register_tasks(app, "portal.deliverability.tasks",
                   routes={"portal.deliverability.poll_bounce_mailbox": {"queue": DEFAULT_QUEUE}}, beat=beat)

    from portal.deliverability.views import bp

    # The admin page: rates against the providers' lines, and the suppression list.
    app.register_blueprint(bp)
