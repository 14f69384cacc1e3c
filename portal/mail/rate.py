"""MAIL_BULK_RATE: how fast bulk mail may leave, counted across every worker process.

The limits ("14/second", "50000/day", or both joined by ";") are parsed by the
`limits` package that Flask-Limiter already uses, and counted in fixed windows
aligned to the clock (a day is a UTC day). With Redis the counters live there;
on the embedded default they are rows of `mail_send_window`, so `make run`'s
worker processes share them too.
Transactional mail never asks: only the bulk lane is paced.
"""
import functools
import math
import time
from dataclasses import dataclass

import redis
from flask import current_app
from limits import RateLimitItem, parse_many

from portal.extensions import db
from portal.mail.models import MailSendWindow

RATE_KEY = "mail-bulk"


@dataclass(frozen=True)
class Slot:
    """The answer to "may one more bulk message go now?"; if not, `retry_at` (epoch seconds) says when."""

    granted: bool
    retry_at: float = 0.0


def bulk_limits() -> list[RateLimitItem]:
    value = current_app.config["MAIL_BULK_RATE"]
    return list(_parsed(value)) if value else []


@functools.lru_cache(maxsize=8)
def _parsed(value: str) -> tuple[RateLimitItem, ...]:
    """Asked before every bulk message, so each setting is parsed once per process."""
    return tuple(parse_many(value))


def per_second(items: list[RateLimitItem]) -> float | None:
    """The pace of the shortest window as messages per second (the outbox page's estimate); None when unlimited.

    A day's limit decides when mail stops for the day, not how fast it goes meanwhile.
    """
    if not items:
        return None
    shortest = min(items, key=lambda item: item.get_expiry())
    return shortest.amount / shortest.get_expiry()


def take_bulk_slot() -> Slot:
    """Count one bulk message against every limit, or say when the tightest full window ends.

    On the embedded default the count is written in the caller's session: the
    caller commits before it sends (on SQLite that transaction holds the write
    lock, so processes take slots one at a time).
    """
    items = bulk_limits()
    if not items:
        return Slot(True)
    if current_app.config["REDIS_URL"]:
        return _take_in_redis(items)
    return _take_in_database(items)


def _take_in_redis(items: list[RateLimitItem]) -> Slot:
    """Clock-aligned windows, as in the database: a key per limit and window, counted with INCR.

    Every limit is looked at before any is counted, so a full per-second window
    does not use up the day's count while the batch waits for the next second.
    """
    client = _redis_client(current_app.config["REDIS_URL"])
    windows = [_window(item, time.time()) for item in items]
    keys = [f"{RATE_KEY}:{name}:{start}" for name, start, _, _ in windows]
    for (_, start, length, amount), used in zip(windows, client.mget(keys)):
        if used is not None and int(used) >= amount:
            return Slot(False, start + length)
    pipeline = client.pipeline()
    for key, (_, _, length, _) in zip(keys, windows):
        pipeline.incr(key)
        pipeline.expire(key, length + 60)
    counts = pipeline.execute()[::2]
    for count, (_, start, length, amount) in zip(counts, windows):
        if count > amount:  # another process took the last slot in between
            return Slot(False, start + length)
    return Slot(True)


_clients: dict[str, redis.Redis] = {}


def _redis_client(url: str) -> redis.Redis:
    if url not in _clients:
        # A Redis that stops answering must cost a bulk task seconds, not hang it.
        _clients[url] = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
    return _clients[url]


def _window(item: RateLimitItem, now: float) -> tuple[str, int, int, int]:
    """(limit name, start of the current window, its length in seconds, messages allowed in it)."""
    length = item.get_expiry()
    return f"{item.amount}/{length}second", math.floor(now / length) * length, length, item.amount


def _take_in_database(items: list[RateLimitItem]) -> Slot:
    taken = []
    for name, start, length, amount in (_window(item, time.time()) for item in items):
        # Locked: two processes must not both take the last slot of a window.
        window = db.session.get(MailSendWindow, name, with_for_update=True)
        if window is None:
            window = MailSendWindow(limit_name=name, window_start=start, used=0)
            db.session.add(window)
        elif window.window_start != start:
            window.window_start, window.used = start, 0
        if window.used >= amount:
            db.session.flush()
            return Slot(False, start + length)
        taken.append(window)
    for window in taken:
        window.used += 1
    db.session.flush()
    return Slot(True)
