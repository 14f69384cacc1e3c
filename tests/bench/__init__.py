"""Benchmarks, run with `python -m tests.bench [scenario ...]` (never collected by pytest).

Every module here named bench_<scenario>.py is a scenario: it exposes
`run() -> list[Row]` and measures its candidate and its baselines in the same
run, back to back, so the machine's speed and load cancel out in the ratio.
A scenario may return Row objects or plain dicts with the same keys. The
runner prints one table and exits non-zero when a goal is missed or a
scenario fails.
"""
import importlib
import os
import pkgutil
import sys
import uuid
from collections.abc import Mapping
from contextlib import contextmanager
from dataclasses import dataclass, fields
from types import ModuleType

PREFIX = "bench_"
PG_ADMIN_URL = os.environ.get("BENCH_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def pg_admin_execute(sql: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN_URL.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as conn:
        conn.execute(sql)


@contextmanager
def bench_database(prefix: str):
    """A PostgreSQL database of the scenario's own; yields its URL and drops it afterwards."""
    from sqlalchemy.engine import make_url

    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    pg_admin_execute(f'CREATE DATABASE "{name}"')
    try:
        url = make_url(PG_ADMIN_URL.replace("postgresql+psycopg://", "postgresql://")).set(database=name)
        yield url.render_as_string(hide_password=False)
    finally:
        pg_admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def environ(values: dict):
    """Set environment variables for the block (the app factory reads them), then restore them."""
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@dataclass(frozen=True)
class Row:
    scenario: str
    #: What was measured, with its unit: "throughput msg/s", "p99 latency ms".
    metric: str
    value: float
    #: What `value` is compared with, measured in the same run.
    baseline: str
    baseline_value: float
    #: The comparison the goal is about, usually value / baseline_value.
    ratio: float
    #: The goal in words (">= 0.50", "0 errors"); `met` says whether it was reached.
    goal: str
    met: bool

    @classmethod
    def at_least(cls, scenario: str, metric: str, value: float, baseline: str, baseline_value: float,
                 goal: float) -> "Row":
        """The common case: value / baseline_value must reach `goal`."""
        ratio = value / baseline_value if baseline_value else 0.0
        return cls(scenario, metric, float(value), baseline, float(baseline_value), ratio, f">= {goal:.2f}",
                   ratio >= goal)

    @classmethod
    def coerce(cls, item: "Row | Mapping") -> "Row":
        if isinstance(item, cls):
            return item
        return cls(**{f.name: item[f.name] for f in fields(cls)})


def discover(names: list[str] | None = None) -> list[ModuleType]:
    """The scenario modules, all of them or the named ones ("outbox" or "bench_outbox")."""
    available = sorted(
        info.name for info in pkgutil.iter_modules(__path__) if info.name.startswith(PREFIX)
    )
    if names:
        wanted = [name if name.startswith(PREFIX) else PREFIX + name for name in names]
        unknown = sorted(set(wanted) - set(available))
        if unknown:
            raise SystemExit(f"unknown scenario(s) {', '.join(unknown)}; available: {', '.join(available)}")
        available = [name for name in available if name in wanted]
    return [importlib.import_module(f"{__name__}.{name}") for name in available]


def progress(message: str) -> None:
    """Progress goes to stderr so stdout holds only the table."""
    print(message, file=sys.stderr, flush=True)


def format_table(rows: list[Row]) -> str:
    header = ["scenario", "metric", "value", "baseline", "baseline value", "ratio", "goal", "met"]
    body = [
        [row.scenario, row.metric, f"{row.value:,.1f}", row.baseline, f"{row.baseline_value:,.1f}",
         f"{row.ratio:.2f}", row.goal, "yes" if row.met else "NO"]
        for row in rows
    ]
    numeric = {2, 4, 5}
    widths = [max(len(cells[column]) for cells in [header, *body]) for column in range(len(header))]
    lines = [
        "  ".join(cell.rjust(width) if column in numeric else cell.ljust(width)
                  for column, (cell, width) in enumerate(zip(cells, widths))).rstrip()
        for cells in [header, *body]
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def app_from_env(env: dict):
    """The portal as a web process would build it from `env`; os.environ is left as it was."""
    from portal import create_app

    with environ(env):
        return create_app()


@contextmanager
def flushed_redis(url: str):
    """A Redis database of the bench's own, empty before and after."""
    import redis

    with redis.Redis.from_url(url) as client:
        client.flushdb()
    try:
        yield
    finally:
        with redis.Redis.from_url(url) as client:
            client.flushdb()
