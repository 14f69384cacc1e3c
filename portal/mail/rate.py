"""MAIL_BULK_RATE: how fast bulk mail may leave, counted across every worker process.

The limits are fixed windows ("14/second", "50000/day", or both joined by ";"),
parsed by the `limits` package that Flask-Limiter already uses. With Redis the
counters live there (limits' own Redis storage); on the embedded default they
are rows of `mail_send_window`, so `make run`'s worker processes share them too.
Transactional mail never asks: only the bulk lane is paced.
"""
import math
import time
from dataclasses import dataclass

from flask import current_app
from limits import RateLimitItem, parse_many
from limits.storage import storage_from_string
from limits.strategies import FixedWindowRateLimiter

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
    return parse_many(value) if value else []


def per_second(items: list[RateLimitItem]) -> float | None:
    """The tightest limit as messages per second (for the outbox page's estimates); None when unlimited."""
    if not items:
        return None
    return min(item.amount / item.get_expiry() for item in items)


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
    limiter = _redis_limiter(current_app.config["REDIS_URL"])
    for item in items:
        if not limiter.hit(item, RATE_KEY):
            return Slot(False, limiter.get_window_stats(item, RATE_KEY).reset_time)
    return Slot(True)


_limiters: dict[str, FixedWindowRateLimiter] = {}


def _redis_limiter(url: str) -> FixedWindowRateLimiter:
    if url not in _limiters:
        _limiters[url] = FixedWindowRateLimiter(storage_from_string(url))
    return _limiters[url]


def _take_in_database(items: list[RateLimitItem]) -> Slot:
    now = time.time()
    windows = []
    for item in items:
        length = item.get_expiry()
        start = math.floor(now / length) * length
        name = f"{item.amount}/{length}second"
        # Locked: two processes must not both take the last slot of a window.
        window = db.session.get(MailSendWindow, name, with_for_update=True)
        if window is None:
            window = MailSendWindow(limit_name=name, window_start=start, used=0)
            db.session.add(window)
        elif window.window_start != start:
            window.window_start, window.used = start, 0
        if window.used >= item.amount:
            db.session.flush()
            return Slot(False, start + length)
        windows.append(window)
    for window in windows:
        window.used += 1
    db.session.flush()
    return Slot(True)
