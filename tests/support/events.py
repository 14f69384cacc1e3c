"""Build a two-day Washington event the way the demo seed does, for tests and benchmarks."""
from datetime import date, datetime, time, timedelta

from portal.database import utcnow
from portal.registration.demo import CATEGORIES
from portal.registration.models import AttendeeCategory, Event, EventDay


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
    return Event(
        slug=slug,
        title=title,
        summary=f"{title}: an event made for automated checks.",
        venue="Capitol Convention Hall",
        address_line1="900 Massachusetts Avenue NW",
        city="Washington",
        region="DC",
        postal_code="20001",
        country="United States",
        timezone="America/New_York",
        registration_opens_at=opens_at or now - timedelta(days=1),
        registration_closes_at=closes_at or now + timedelta(days=30),
        capacity=capacity,
        privacy_policy_version=privacy_policy_version,
        days=[
            EventDay(position=1, date=first_day, starts_at=time(8, 30), ends_at=time(17, 30), capacity=day_capacity),
            EventDay(
                position=2, date=first_day + timedelta(days=1), starts_at=time(8, 30), ends_at=time(15, 0),
                capacity=day_capacity,
            ),
        ],
        categories=[
            AttendeeCategory(code=code, label=label, fee_cents=fee, currency="USD", position=index)
            for index, (code, label, fee) in enumerate(CATEGORIES, start=1)
        ],
    )
