"""The consent benchmark's server: the portal itself, plus the baseline route.

gunicorn serves `tests.bench.consent_app:create_bench_app()`, so the consent
POST and the bare POST it is compared with run in the same server, the same
workers and the same Flask stack. The bare route is CSRF-exempt and does what
a view that stores one row ordinarily does: one INSERT in a transaction, the
commit, 204. A second bare route, for reference only, commits its INSERT as it
is written, as the consent POST does (portal.database.commit_each_statement).
"""
from flask import Flask
from sqlalchemy import text

from portal import create_app
from portal.database import commit_each_statement
from portal.extensions import csrf, db

BARE_PATH = "/bench/bare-post"
BARE_AUTOCOMMIT_PATH = "/bench/bare-post-autocommit"
BARE_TABLE_DDL = "CREATE TABLE IF NOT EXISTS bench_bare_post (id bigserial PRIMARY KEY, note text)"


def bare_insert_view():
    db.session.execute(text("INSERT INTO bench_bare_post (note) VALUES ('x')"))
    db.session.commit()
    return "", 204


def bare_autocommit_insert_view():
    commit_each_statement()
    return bare_insert_view()


def add_bare_route(app: Flask) -> Flask:
    app.add_url_rule(BARE_PATH, "bench_bare_post", csrf.exempt(bare_insert_view), methods=["POST"])
    app.add_url_rule(BARE_AUTOCOMMIT_PATH, "bench_bare_post_autocommit", csrf.exempt(bare_autocommit_insert_view),
                     methods=["POST"])
    return app


def create_bench_app() -> Flask:
    return add_bare_route(create_app())
