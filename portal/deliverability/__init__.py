"""Deliverability: bounces and complaints read back from the bounce mailbox, and the suppression list."""
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

    from portal.deliverability.intake import init_intake

    # The bounce mailbox: `flask bounces poll`, and beat's poll when a mailbox is configured.
    init_intake(app)

    from portal.deliverability.views import bp

    # The admin page: rates against the providers' lines, and the suppression list.
    app.register_blueprint(bp)
