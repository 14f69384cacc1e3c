"""The demo Policy Summit, so a fresh install always shows a live registration form."""
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from portal.database import utcnow
from portal.extensions import db
from portal.registration.models import AttendeeCategory, Event, EventDay

TIMEZONE = "America/New_York"
PRIVACY_POLICY_VERSION = "2026-01"
# (code, label, fee in cents)
CATEGORIES = [
    ("member", "Society member", 39_500),
    ("non_member", "Non-member", 59_500),
    ("student", "Student or trainee", 9_500),
    ("patient_advocate", "Patient advocate", 0),
    ("government", "Government", 19_500),
    ("press", "Press", 0),
]


def next_summit_first_day(today: date) -> date:
    """September 23 of the first year in which it is still ahead of `today`."""
    first_day = date(today.year, 9, 23)
    return first_day if first_day > today else date(today.year + 1, 9, 23)


def seed_demo_event(today: date | None = None) -> tuple[Event, bool]:
    """Create the next Policy Summit unless it exists; returns (event, created). Caller commits."""
    now = utcnow()
    zone = ZoneInfo(TIMEZONE)
    today = today or now.replace(tzinfo=ZoneInfo("UTC")).astimezone(zone).date()
    first_day = next_summit_first_day(today)
    slug = f"policy-summit-{first_day.year}"
    existing = db.session.scalar(select(Event).where(Event.slug == slug))
    if existing is not None:
        return existing, False

    # Registration closes at the end of the day before the summit, Washington time.
    closes_local = datetime.combine(first_day - timedelta(days=1), time(23, 59), tzinfo=zone)
    event = build_summit(
        slug,
        title=f"Policy Summit {first_day.year}",
        summary=(
            "Two days in Washington, D.C. with policymakers, clinicians, researchers, payers and patient "
            "advocates on one question: how every patient who could benefit from a cell or gene therapy "
            "gets access to it. Day 1 covers pricing, payment models and regulation; Day 2 brings "
            "meetings on Capitol Hill and closes with a joint policy statement."
        ),
        first_day=first_day,
        opens_at=now.replace(second=0, microsecond=0),
        closes_at=closes_local.astimezone(ZoneInfo("UTC")).replace(tzinfo=None),
        capacity=450,
        day_capacity=300,
        privacy_policy_version=PRIVACY_POLICY_VERSION,
    )
    # As deploy/summit.example.toml declares it, so the demo shows how fees are paid.
    event.payment_method = "invoice"
    event.payment_instructions = "Invoices are due within 30 days. Purchase orders are accepted."
    db.session.add(event)
    db.session.flush()
    return event, True


def build_summit(
    slug: str,
    *,
    title: str,
    summary: str,
    first_day: date,
    opens_at: datetime,
    closes_at: datetime,
    capacity: int | None,
    day_capacity: int,
    privacy_policy_version: str,
) -> Event:
    """An unsaved two-day summit at the society's Washington venue, with the usual categories.

    `opens_at`/`closes_at` are naive UTC. Tests and benchmarks build their events
    here too, so they exercise the same shape of event the demo shows.
    """
    return Event(
        slug=slug,
        title=title,
        summary=summary,
        venue="Capitol Convention Hall",
        address_line1="900 Massachusetts Avenue NW",
        city="Washington",
        region="DC",
        postal_code="20001",
        country="United States",
        timezone=TIMEZONE,
        registration_opens_at=opens_at,
        registration_closes_at=closes_at,
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
