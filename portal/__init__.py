"""Summit Portal: event registration, resources and newsletter for a CGT society."""
import io
import logging
import os
import re
from pathlib import Path

from flask import Flask
from werkzeug.exceptions import SecurityError
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter
from werkzeug.wsgi import get_host
from whitenoise import WhiteNoise

from portal.config import (
    check_production_safety,
    configure_session_cookie,
    load_config,
    trusted_hosts,
    uses_embedded_services,
)


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
    from portal.forms import PortalRequest

    app.request_class = PortalRequest
    app.url_map.converters["int"] = RowIdConverter
    app.config.from_mapping(load_config(app.instance_path))
    if overrides:
        app.config.from_mapping(overrides)
    check_production_safety(app.config)
    configure_session_cookie(app.config)
    app.config["EMBEDDED_SERVICES"] = uses_embedded_services(app.config)
    # Every email it holds carries personal links: only a development portal shows it.
    app.config["DEV_MAILBOX_VISIBLE"] = app.config["EMBEDDED_SERVICES"] and app.config["DEVELOPMENT"]
    # Checked by our own WSGI guard (below), not Flask's TRUSTED_HOSTS: Flask raises while
    # setting up the request, which surfaces as a 500, and /healthz must answer by address.
    app.config.setdefault("PORTAL_TRUSTED_HOSTS", trusted_hosts(app.config))
    app.config.setdefault(
        "RATELIMIT_STORAGE_URI", app.config["REDIS_URL"] or "memory://"
    )
    if app.config["REDIS_URL"]:
        # A Redis that accepts connections but never answers (stopped, overloaded) must
        # cost a request seconds, not hang it until the server kills the worker.
        app.config.setdefault("RATELIMIT_STORAGE_OPTIONS", {"socket_connect_timeout": 2, "socket_timeout": 2})
    _configure_logging()
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        # A blackholed database host must fail a request (and /healthz) in seconds, not hang it.
        app.config.setdefault(
            "SQLALCHEMY_ENGINE_OPTIONS", {"pool_pre_ping": True, "connect_args": {"connect_timeout": 5}}
        )
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    _serve_static_files(app)
    if app.config["MAX_CONTENT_LENGTH"]:
        app.wsgi_app = _limit_chunked_bodies(app.wsgi_app, app.config["MAX_CONTENT_LENGTH"])
    if app.config["PORTAL_TRUSTED_HOSTS"]:
        app.wsgi_app = _reject_untrusted_hosts(app.wsgi_app, app.config["PORTAL_TRUSTED_HOSTS"])
    if app.config["TRUSTED_PROXIES"]:
        # Only then do X-Forwarded-For/-Proto/-Host decide the client address (and so
        # the rate limits), the scheme and the host; without a proxy they are forgeable.
        hops = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops, x_prefix=hops)

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

    from portal import (
        admin, cli, consent, deferred, deliverability, digests, errors, health, liveness, mail as mail_domain,
        newsletter, registration, resources, retention,
    )
    from portal.pages.views import bp as pages_bp

    mail_domain.init_app(app)
    deferred.init_app(app)
    consent.init_app(app)
    newsletter.init_app(app)
    registration.init_app(app)
    resources.init_app(app)
    digests.init_app(app)
    deliverability.init_app(app)
    admin.init_app(app)
    errors.init_app(app)
    cli.init_app(app)
    liveness.init_app(app)
    retention.init_app(app)
    app.register_blueprint(health.bp)
    app.register_blueprint(pages_bp)

    _register_domain_models()
    return app


class RowIdConverter(IntegerConverter):
    """`<int:…>` names a row, whose id is a database INTEGER: a larger number is no row (404).

    Unbounded, such a number reaches the query and the database refuses it
    (out of range), which would be a 500 for a typed or tampered URL.
    """

    def __init__(self, url_map, *args, **kwargs):
        kwargs.setdefault("max", 2**31 - 1)
        super().__init__(url_map, *args, **kwargs)


# `flask --app portal digest compile` (the Docker build runs it) writes an md5-named,
# gzipped copy of every static file and a manifest; static_url_for then links to those.
_DIGESTED = re.compile(r"-[0-9a-f]{32}\.[^/]+$")


def _serve_static_files(app: Flask) -> None:
    """WhiteNoise serves /static: gzip when the client takes it, and far-future caching for digested names."""
    from portal.extensions import static_digest

    static_digest.init_app(app)

    def security_headers(headers, path, url):
        headers["X-Content-Type-Options"] = "nosniff"
        headers["Cross-Origin-Resource-Policy"] = "same-origin"

    app.wsgi_app = WhiteNoise(
        app.wsgi_app,
        root=app.static_folder,
        prefix=app.static_url_path,
        max_age=300,
        # A digested name changes whenever the content does, so it may be cached for good.
        immutable_file_test=lambda path, url: bool(_DIGESTED.search(url)),
        add_headers_function=security_headers,
        autorefresh=app.debug,
    )


def _limit_chunked_bodies(wsgi_app, max_bytes: int):
    """A chunked body (no Content-Length) over the limit gets the same 413 as a declared one.

    Werkzeug stops reading such a body at the limit and parses what it got, so
    a form's tail would silently vanish. The body is read here instead, at most
    one byte past the limit; a body that fits is handed on with its length.
    """

    def limited(environ, start_response):
        if environ.get("CONTENT_LENGTH") or not environ.get("wsgi.input_terminated"):
            return wsgi_app(environ, start_response)
        body = environ["wsgi.input"].read(max_bytes + 1)
        # From here on the body is an ordinary one of known length; Werkzeug ignores
        # Content-Length while Transfer-Encoding says chunked.
        environ.pop("HTTP_TRANSFER_ENCODING", None)
        environ["CONTENT_LENGTH"] = str(len(body))
        # Too large: the declared length makes Werkzeug answer with the portal's own 413 page.
        environ["wsgi.input"] = io.BytesIO(body if len(body) <= max_bytes else b"")
        return wsgi_app(environ, start_response)

    return limited


def _reject_untrusted_hosts(wsgi_app, trusted: list[str]):
    """400 for a Host header the portal does not answer to, before Flask builds anything from it."""

    def guarded(environ, start_response):
        # Load balancers and the container health check call /healthz by address; it builds no links.
        if environ.get("PATH_INFO") == "/healthz":
            return wsgi_app(environ, start_response)
        try:
            get_host(environ, trusted)
        except SecurityError:
            body = b"Unknown host.\n"
            start_response("400 Bad Request", [("Content-Type", "text/plain; charset=utf-8"),
                                               ("Content-Length", str(len(body)))])
            return [body]
        return wsgi_app(environ, start_response)

    return guarded


def _configure_logging() -> None:
    """Flask-Limiter's outage notes reach stderr (gunicorn's log), where nothing else would show them.

    Its logger has only a NullHandler, so its one line per outage ("Rate limit
    storage unreachable - falling back to in-memory storage": limits are then
    counted per process until Redis is back) and "Rate limit storage recovered"
    would be lost. The root logger is left alone: Celery configures it.
    """
    limiter_log = logging.getLogger("flask-limiter")
    if not any(not isinstance(h, logging.NullHandler) for h in limiter_log.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        limiter_log.addHandler(handler)
        limiter_log.setLevel(logging.INFO)


def _register_domain_models() -> None:
    """Import every model module so metadata (and Alembic) sees all tables."""
    import portal.admin.models  # noqa: F401
    import portal.consent.models  # noqa: F401
    import portal.deliverability.models  # noqa: F401
    import portal.deferred.models  # noqa: F401
    import portal.digests.models  # noqa: F401
    import portal.liveness.models  # noqa: F401
    import portal.mail.models  # noqa: F401
    import portal.newsletter.models  # noqa: F401
    import portal.registration.models  # noqa: F401
    import portal.resources.models  # noqa: F401
