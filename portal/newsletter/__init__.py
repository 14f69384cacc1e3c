"""The newsletter: double opt-in signups, a preference centre, one-click unsubscribe and data rights."""
from flask import Flask


def init_app(app: Flask) -> None:
    from portal.deferred.service import register_handler
    from portal.newsletter import service
    from portal.newsletter.views import bp

    app.register_blueprint(bp)
    register_handler(service.SIGNUP_REQUEST, service.handle_signup_request)
    register_handler(service.MANAGE_LINK_REQUEST, service.handle_manage_link_request)
