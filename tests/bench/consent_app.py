"""The consent benchmark's server: the portal itself, plus the baseline route.

gunicorn serves `tests.bench.consent_app:create_bench_app()`, so the consent
POST and the bare POST it is compared with run in the same server, the same
workers and the same Flask stack. The bare route is CSRF-exempt and does the
least a POST that stores something can do: one INSERT, one commit, 204.
"""
from flask import Flask
from sqlalchemy import text

from portal import create_app
from portal.extensions import csrf, db

BARE_PATH = "/bench/bare-post"
BARE_TABLE_DDL = "CREATE TABLE IF NOT EXISTS bench_bare_post (id bigserial PRIMARY KEY, note text)"


def bare_insert_view():
    db.session.execute(text("INSERT INTO bench_bare_post (note) VALUES ('x')"))
    db.session.commit()
    return "", 204


def add_bare_route(app: Flask) -> Flask:
    app.add_url_rule(BARE_PATH, "bench_bare_post", csrf.exempt(bare_insert_view), methods=["POST"])
    return app


def create_bench_app() -> Flask:
    return add_bare_route(create_app())
