"""Admin and staff: login, dashboard, attendee management, check-in, exports, the resource catalog,
digests and the audit log."""
from flask import Flask


def init_app(app: Flask) -> None:
    from portal.admin import auth
    from portal.admin import content_views  # noqa: F401  (its routes join the blueprint before it is registered)
    from portal.admin.views import bp

    auth.init_app(app)
    app.register_blueprint(bp)
