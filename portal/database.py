"""Engine-level settings that differ between SQLite and PostgreSQL."""
from datetime import datetime, timezone

from flask import Flask
from sqlalchemy import event

from portal.extensions import db

SQLITE_BUSY_TIMEOUT_MS = 15_000


def utcnow() -> datetime:
    """Naive UTC now; every timestamp column stores naive UTC on both backends."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


def is_postgresql() -> bool:
    return db.engine.dialect.name == "postgresql"


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
