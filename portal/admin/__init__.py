"""Admin and staff: login, dashboard, attendee management, check-in, exports and the audit log."""
from flask import Flask


def init_app(app: Flask) -> None:
    from portal.admin import auth
    from portal.admin.views import bp

    auth.init_app(app)
    app.register_blueprint(bp)
