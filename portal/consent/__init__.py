"""Cookie consent: a registry of every cookie and script, a banner, a signed choice, and a log that proves it."""

from flask import Flask


def init_app(app: Flask) -> None:
    from portal.consent.cli import consent_cli
    from portal.consent.views import bp

    app.register_blueprint(bp)
    app.cli.add_command(consent_cli)
