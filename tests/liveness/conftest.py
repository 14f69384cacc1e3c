"""Liveness tests: short heartbeat settings, and /healthz read from a test client of the same portal."""
import pytest

from tests.support.wait import wait_until

#: Heartbeats every half second, late after 2 s, missing after 5 s: a stopped process goes through both in seconds.
SHORT_HEARTBEATS = {"HEARTBEAT_SECONDS": "0.5", "HEARTBEAT_LATE_SECONDS": "2", "HEARTBEAT_MISSING_SECONDS": "5"}


class Health:
    """`health()` is /healthz's response; `health.until(predicate)` polls it until predicate(json) holds."""

    def __init__(self, app):
        self.app = app
        self.client = app.test_client()

    def __call__(self, strict: bool = False):
        return self.client.get("/healthz?strict" if strict else "/healthz")

    def until(self, predicate, timeout: float = 30, message: str = "/healthz state"):
        return wait_until(lambda: (lambda r: r if predicate(r.json) else None)(self()), timeout=timeout,
                          interval=0.2, message=message)


@pytest.fixture
def liveness_env(portal_env):
    """The test's portal (and every worker or beat started afterwards) with short heartbeat settings."""
    portal_env.update(SHORT_HEARTBEATS)
    return portal_env


@pytest.fixture
def make_health(liveness_env, make_app):
    """`make_health()`: /healthz of an app built from `liveness_env` as it is now."""
    return lambda: Health(make_app())


@pytest.fixture
def health(make_health):
    return make_health()
