"""Which backend this test run uses, and the PostgreSQL helpers that make a database per test."""
import itertools
import os
import uuid

import psycopg
from sqlalchemy.engine import make_url

BACKEND = os.environ.get("PORTAL_TEST_BACKEND", "embedded")
assert BACKEND in {"embedded", "services"}, f"unknown PORTAL_TEST_BACKEND {BACKEND!r}"
PG_ADMIN_URL = os.environ.get("TEST_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/9")
RUN_ID = uuid.uuid4().hex[:8]
_counter = itertools.count()


def next_database_number() -> int:
    return next(_counter)


def pg_url(dbname: str) -> str:
    return str(make_url(PG_ADMIN_URL).set(drivername="postgresql+psycopg", database=dbname).render_as_string(hide_password=False))


def pg_admin_execute(sql: str) -> None:
    with psycopg.connect(PG_ADMIN_URL.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as conn:
        conn.execute(sql)
