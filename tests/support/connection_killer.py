"""Terminate every PostgreSQL connection to a test's database, again and again, as a failing server or proxy would."""
import threading

import psycopg
from sqlalchemy.engine import make_url

from tests.support.database import PG_ADMIN_URL


class ConnectionKiller:
    """`with ConnectionKiller(database_url, every=0.3) as killer:` runs pg_terminate_backend in a thread.

    It connects to the admin database, never to the test's own, so it is not among
    what it terminates. `killer.terminated` counts the connections it ended.
    """

    def __init__(self, database_url: str, every: float = 0.3):
        self.database = make_url(database_url).database
        self.every = every
        self.terminated = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with psycopg.connect(PG_ADMIN_URL.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as conn:
            while not self._stop.wait(self.every):
                self.terminated += conn.execute(
                    "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = %s AND pid <> pg_backend_pid()", [self.database]
                ).fetchone()[0]

    def __enter__(self) -> "ConnectionKiller":
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
