"""What differs between SQLite and PostgreSQL: engine settings, row locks, lock errors.

Transactions belong to the caller: services change the session and flush;
the view, task or CLI command that called them commits (or rolls back).
"""
import sqlite3
from contextlib import contextmanager
from datetime import datetime, timezone
from operator import itemgetter

from flask import Flask
from sqlalchemy import JSON, BigInteger, Boolean, DateTime, Integer, SmallInteger, String, Table, any_, event, literal, text
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


def bulk_insert(table: Table, rows: list[dict]) -> None:
    """Insert many rows (dicts with the same keys) in the session's transaction; returns nothing.

    SQLite: one Core executemany. PostgreSQL: one binary COPY, for bulk writes
    of wide rows (a mailing's outbox rows carry about 11 kB of body each).
    Measured on batches of 500 digests, one-row INSERTs in a pipeline cost the
    client about 80 and the server about 120 microseconds a row, this about 35
    and 75: no statement per row, and in binary format the server copies text
    as it comes, where text-format COPY would scan every byte for escapes
    (slower than the INSERTs). Binary COPY needs each value in its column's
    exact type; the types are read off the model, which the migrations are
    tested to match. COPY applies only the server's column defaults, so the
    model's own (Python-side) defaults are filled in here, once per call.
    """
    if not rows:
        return
    if not is_postgresql():
        db.session.execute(table.insert(), rows)
        return
    given = list(rows[0])
    defaults = _model_defaults(table, given)
    columns = given + list(defaults)
    values_of = itemgetter(*given) if len(given) > 1 else (lambda row: (row[given[0]],))
    default_values = tuple(defaults.values())
    statement = f"COPY {table.name} ({', '.join(columns)}) FROM STDIN (FORMAT BINARY)"
    connection = db.session.connection()
    dbapi = connection.dialect.dbapi
    cursor = connection.connection.cursor()
    try:
        with cursor.copy(statement) as copy:
            copy.set_types([_copy_type(table.c[name].type) for name in columns])
            for row in rows:
                copy.write_row(values_of(row) + default_values)
    except dbapi.Error as exc:
        # The driver's own error, raised as SQLAlchemy raises it for any statement
        # (IntegrityError for a duplicate key, OperationalError for a lost server).
        raise DBAPIError.instance(statement, None, exc, dbapi.Error) from exc
    finally:
        cursor.close()


def _model_defaults(table: Table, given: list[str]) -> dict:
    """The model's Python-side default of each column not in `given` that has one."""
    defaults = {}
    for column in table.columns:
        default = column.default
        if column.name in given or default is None:
            continue
        if default.is_scalar:
            defaults[column.name] = default.arg
        elif default.is_callable:
            defaults[column.name] = default.arg(None)  # SQLAlchemy's wrapper takes an execution context
        else:
            raise TypeError(f"{table.name}.{column.name}: a SQL expression default cannot be COPYed")
    return defaults


def _copy_type(column_type) -> str:
    # Most specific first: BigInteger is an Integer, Text is a String.
    for sql_type, name in ((BigInteger, "int8"), (SmallInteger, "int2"), (Integer, "int4"), (String, "text"),
                           (JSON, "json"), (Boolean, "bool")):
        if isinstance(column_type, sql_type):
            return name
    if isinstance(column_type, DateTime):
        return "timestamptz" if column_type.timezone else "timestamp"
    raise TypeError(f"no binary COPY type for {column_type!r}")


def configure_engine_events(app: Flask) -> None:
    with app.app_context():
        engine = db.engine
    if engine.dialect.name == "postgresql":
        event.listen(engine, "connect", _postgresql_on_connect)
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


def _postgresql_on_connect(dbapi_connection, _record):
    # Large values (email bodies above all) are compressed as they are stored. lz4 costs
    # the server a fraction of the default pglz's CPU for a similar size (measured on
    # digest bodies: about 50 against 120 microseconds a row). A server built without
    # lz4 keeps its default.
    with dbapi_connection.cursor() as cursor:
        cursor.execute("SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'")
        row = cursor.fetchone()
        if row and row[0]:
            cursor.execute("SET default_toast_compression = 'lz4'")
    dbapi_connection.commit()


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
