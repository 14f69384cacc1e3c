"""Retention: every kind of personal data declared once (registry), shown in the notices, purged daily."""
from flask import Flask


def init_app(app: Flask) -> None:
    from portal.retention.notices import controller, retention_entries

    app.add_template_global(retention_entries)
    app.add_template_global(controller, "data_controller")
