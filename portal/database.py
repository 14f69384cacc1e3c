"""What differs between SQLite and PostgreSQL: engine settings, row locks, lock errors.

Transactions belong to the caller: services change the session and flush;
the view, task or CLI command that called them commits (or rolls back).
"""
import sqlite3
from contextlib import contextmanager
from datetime import datetime, timezone

from flask import Flask
from sqlalchemy import Table, any_, event, literal, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import DBAPIError, OperationalError

from portal.extensions import db

SQLITE_BUSY_TIMEOUT_MS = 15_000


def utcnow() -> datetime:
    """Naive UTC now; every timestamp column stores naive UTC on both backends."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


def is_postgresql() -> bool:
    return db.engine.dialect.name == "postgresql"


def commit_each_statement() -> None:
    """On PostgreSQL, let the session's statements commit one by one: for a request whose only write is one statement.

    psycopg opens each transaction with a BEGIN round trip of its own and the
    commit is another, so a lone INSERT costs three round trips; autocommitted,
    it costs one (the consent log's row, written on every banner choice).
    Call it before the session first uses the database in its transaction
    (SQLAlchemy warns otherwise); the pool puts the connection back in
    transaction mode when the session returns it. SQLite keeps its
    transaction (its begin hook takes the write lock), so callers still commit.
    """
    if is_postgresql():
        db.session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})


def one_of(column, values):
    """`column IN values`: on PostgreSQL written `column = ANY(:values)`, with the values as one array.

    SQLAlchemy sends IN with a parameter per value, so a batch query of 500 ids
    carries 500 of them; psycopg parses any statement of more than 50
    parameters anew on every execution (smaller ones it caches), which was a
    tenth of a digest worker's CPU. With one array parameter the statement is
    short and always the same. The server plans both forms alike.
    """
    if is_postgresql():
        return column == any_(literal(list(values), ARRAY(column.type)))
    return column.in_(values)


def bulk_insert(table: Table, rows: list[dict], returning=None) -> list:
    """Insert many rows (dicts with the same keys) in the session's transaction: one executemany.

    SQLAlchemy sends them as multi-row INSERTs ("insertmanyvalues"), a page of
    rows per statement, on both backends. With `returning` (a column), returns
    its values in the order of `rows`.
    """
    if not rows:
        return []
    if returning is None:
        db.session.execute(table.insert(), rows)
        return []
    # RETURNING follows the order of the rows only with sort_by_parameter_order.
    return list(db.session.scalars(table.insert().returning(returning, sort_by_parameter_order=True), rows))


def configure_engine_events(app: Flask) -> None:
    with app.app_context():
        engine = db.engine
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _sqlite_on_connect(dbapi_connection, _record):
        # Let SQLAlchemy (not pysqlite) emit BEGIN, so we can make it BEGIN IMMEDIATE.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode = WAL")
        # In WAL mode NORMAL loses nothing when a process dies, only on power loss,
        # and spares an fsync per commit (the outbox commits after every message).
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _sqlite_begin_immediate(conn):
        # A deferred transaction that reads and later writes fails at once with
        # SQLITE_BUSY when another writer got there first; busy_timeout does not
        # help with that upgrade. Taking the write lock up front makes every
        # writer wait its turn instead, so "database is locked" never reaches a
        # visitor.
        conn.exec_driver_sql("BEGIN IMMEDIATE")


# ---------------------------------------------------------------- row locks

PG_LOCK_NOT_AVAILABLE = "55P03"


class LockTimeout(Exception):
    """A lock was not free in time; nothing was written.

    The transaction cannot continue: the caller rolls back, and a visitor can
    simply try again.
    """


def is_lock_contention(exc: OperationalError) -> bool:
    """True for PostgreSQL's lock_timeout and SQLite's "database is locked"."""
    if getattr(exc.orig, "sqlstate", None) == PG_LOCK_NOT_AVAILABLE:
        return True
    return isinstance(exc.orig, sqlite3.OperationalError) and "locked" in str(exc.orig)


def is_connection_lost(exc: DBAPIError) -> bool:
    """True when the database connection died under the statement: nothing was written, trying again may work.

    SQLAlchemy says so itself (connection_invalidated) when an established
    connection fails; a connection terminated while it was being opened (the
    pool's connect event, the ping) is known by its SQLSTATE instead: class 08
    (connection exception) or 57P (terminated by the administrator, the server
    shutting down or starting up).
    """
    if exc.connection_invalidated:
        return True
    sqlstate = getattr(exc.orig, "sqlstate", None) or ""
    return sqlstate.startswith(("08", "57P"))


@contextmanager
def lock_timeouts_as(error_class: type[LockTimeout] = LockTimeout):
    """Turn lock contention inside the block into `error_class` (a LockTimeout)."""
    try:
        yield
    except OperationalError as exc:
        if is_lock_contention(exc):
            raise error_class() from exc
        raise


def select_for_update(statement, timeout_ms: int, lock: bool = True):
    """Execute `statement` FOR UPDATE, waiting at most `timeout_ms` for the row lock.

    The lock is held until the caller's transaction ends. On PostgreSQL a
    waiter gives up after `timeout_ms` (SET LOCAL lock_timeout) instead of
    piling up behind a stuck transaction. On SQLite every transaction already
    began with BEGIN IMMEDIATE (see configure_engine_events), which serialises
    writers the same way; FOR UPDATE compiles to nothing there. `lock=False`
    exists for tests that prove a race is real.
    """
    if is_postgresql():
        db.session.execute(text(f"SET LOCAL lock_timeout = '{int(timeout_ms)}ms'"))
    if lock:
        statement = statement.with_for_update()
    return db.session.execute(statement)
