"""Admin and staff: login, dashboard, attendee management, check-in, exports, the resource catalog,
digests and the audit log."""
from flask import Flask


def init_app(app: Flask) -> None:
    from portal.admin import auth
    # These modules' routes join the blueprint before it is registered.
    from portal.admin import account_views, content_views, erasure_views, export_views, payment_views  # noqa: F401
    from portal.admin.views import bp

    auth.init_app(app)
    app.register_blueprint(bp)
