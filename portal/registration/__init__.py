"""Policy Summit registration: events, attendees, waiting list, manage links."""
from datetime import timedelta

from flask import Flask


HOLD_SWEEP_SECONDS = 300


def init_app(app: Flask) -> None:
    from portal.celery_app import register_tasks
    from portal.deferred.service import register_handler
    from portal.registration import service, visitor_emails
    from portal.registration.views import bp

    app.register_blueprint(bp)
    register_handler(visitor_emails.LOST_LINK_REQUEST, visitor_emails.handle_lost_link_request)
    register_handler(service.REGISTRATION_EMAIL_REQUEST, visitor_emails.send_registration_email)
    register_tasks(
        app,
        "portal.registration.tasks",
        beat={
            "release-expired-holds": {
                "task": "portal.registration.release_expired_holds",
                "schedule": timedelta(seconds=HOLD_SWEEP_SECONDS),
            }
        },
    )
