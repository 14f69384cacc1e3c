"""The registration benchmark's baseline: the least a registration POST can cost.

A plain WSGI callable (no Flask, no ORM, no templates) that inserts one row per
POST into `bench_bare_registration` with psycopg 3, commits, and answers 303
like the portal does. Served by gunicorn with the same settings as the portal
(see bench_registration.py), so the difference between the two is what the
portal's request path costs on top of "HTTP + one committed INSERT".

Each gunicorn worker opens its own connection on its first request (after the
fork) and keeps it, as the portal keeps its pooled SQLAlchemy connections.

Environment: BENCH_BARE_DATABASE_URL, a libpq URL (postgresql://...).
"""
import os
from urllib.parse import parse_qs

import psycopg

TABLE_DDL = """
CREATE TABLE IF NOT EXISTS bench_bare_registration (
    id bigserial PRIMARY KEY,
    email varchar(320) NOT NULL,
    created_at timestamp NOT NULL DEFAULT (now() AT TIME ZONE 'utc')
)
"""
INSERT = "INSERT INTO bench_bare_registration (email) VALUES (%s)"

_connection: psycopg.Connection | None = None


def _db() -> psycopg.Connection:
    global _connection
    if _connection is None or _connection.closed:
        _connection = psycopg.connect(os.environ["BENCH_BARE_DATABASE_URL"])
    return _connection


def _answer(start_response, status: str, body: bytes = b"", headers: list | None = None):
    start_response(status, [("Content-Type", "text/plain"), ("Content-Length", str(len(body))), *(headers or [])])
    return [body]


def application(environ, start_response):
    method = environ["REQUEST_METHOD"]
    if method == "GET" and environ.get("PATH_INFO") == "/healthz":
        _db().execute("SELECT 1")
        _db().rollback()
        return _answer(start_response, "200 OK", b"ok")
    if method != "POST":
        return _answer(start_response, "405 Method Not Allowed", headers=[("Allow", "POST")])
    length = int(environ.get("CONTENT_LENGTH") or 0)
    form = parse_qs(environ["wsgi.input"].read(length).decode("utf-8"))
    email = (form.get("email") or [""])[0]
    if not email:
        return _answer(start_response, "400 Bad Request", b"email missing")
    connection = _db()
    try:
        connection.execute(INSERT, (email,))
        connection.commit()
    except BaseException:
        connection.rollback()
        raise
    return _answer(start_response, "303 See Other", headers=[("Location", "/registered")])
