"""Events for tests and benchmarks, built the way the demo seed builds the summit."""
from datetime import date, datetime, timedelta

from portal.database import utcnow
from portal.registration.demo import build_summit
from portal.registration.models import Event


def build_event(
    slug: str,
    *,
    title: str = "Test Policy Summit",
    day_capacity: int = 100,
    capacity: int | None = None,
    first_day: date = date(2030, 9, 23),
    opens_at: datetime | None = None,
    closes_at: datetime | None = None,
    privacy_policy_version: str = "test-1",
) -> Event:
    """An unsaved event open for registration from yesterday for 30 days (unless told otherwise)."""
    now = utcnow()
    return build_summit(
        slug,
        title=title,
        summary=f"{title}: an event made for automated checks.",
        first_day=first_day,
        opens_at=opens_at or now - timedelta(days=1),
        closes_at=closes_at or now + timedelta(days=30),
        capacity=capacity,
        day_capacity=day_capacity,
        privacy_policy_version=privacy_policy_version,
    )
