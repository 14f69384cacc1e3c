"""Summit Portal: event registration, resources and newsletter for a CGT society."""
import os
from pathlib import Path

from flask import Flask

from portal.config import check_production_safety, load_config, uses_embedded_services


def create_app(overrides: dict | None = None) -> Flask:
    """Application factory: nothing is connected or created before it is called."""
    project_root = Path(__file__).resolve().parent.parent
    instance_path = os.environ.get("PORTAL_INSTANCE_PATH") or str(project_root / "instance")
    app = Flask(
        __name__,
        instance_path=instance_path,
        template_folder=str(project_root / "templates"),
        static_folder="static",
    )
    app.config.from_mapping(load_config(app.instance_path))
    if overrides:
        app.config.from_mapping(overrides)
    check_production_safety(app.config)
    app.config["EMBEDDED_SERVICES"] = uses_embedded_services(app.config)
    app.config.setdefault(
        "RATELIMIT_STORAGE_URI", app.config["REDIS_URL"] or "memory://"
    )
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        # A blackholed database host must fail a request (and /healthz) in seconds, not hang it.
        app.config.setdefault(
            "SQLALCHEMY_ENGINE_OPTIONS", {"pool_pre_ping": True, "connect_args": {"connect_timeout": 5}}
        )
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)

    from portal import database, security
    from portal.celery_app import celery_init_app
    from portal.extensions import csrf, db, limiter, mail, migrate

    db.init_app(app)
    database.configure_engine_events(app)
    migrate.init_app(app, db, directory=str(project_root / "migrations"), render_as_batch=True)
    mail.init_app(app)
    csrf.init_app(app)
    limiter.init_app(app)
    celery_init_app(app)
    security.init_app(app)

    from portal import cli, errors, health, mail as mail_domain
    from portal.pages.views import bp as pages_bp
    from portal.registration.views import bp as registration_bp

    mail_domain.init_app(app)
    errors.init_app(app)
    cli.init_app(app)
    app.register_blueprint(health.bp)
    app.register_blueprint(pages_bp)
    app.register_blueprint(registration_bp)

    _register_domain_models()
    return app


def _register_domain_models() -> None:
    """Import every model module so metadata (and Alembic) sees all tables."""
    import portal.admin.models  # noqa: F401
    import portal.mail.models  # noqa: F401
    import portal.registration.models  # noqa: F401
    import portal.resources.models  # noqa: F401
