"""The numbers on the admin dashboard: each a grouped query, none a query per row.

Every query here is a GROUP BY over an indexed column range, so the page costs
the same handful of queries at 100 registrations or 100,000.
"""
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from flask import current_app
from sqlalchemy import case, func, select

from portal.consent.models import ConsentEvent, PageView
from portal.database import utcnow
from portal.extensions import db
from portal.mail.delivery import lane_states
from portal.mail.models import EmailStatus, Lane, OutgoingEmail
from portal.mail.rate import bulk_limits, per_second
from portal.newsletter.models import Subscriber, SubscriberStatus, subscriber_topic
from portal.registration.models import (
    AttendeeCategory,
    CheckIn,
    Event,
    EventDay,
    Registration,
    registration_day,
)
from portal.resources.models import Topic

#: How far back the consent and page-view figures look.
RECENT_DAYS = 30


@dataclass
class DayFigures:
    day: EventDay
    confirmed: int = 0
    waitlisted: int = 0
    checked_in: int = 0


@dataclass
class CategoryFigures:
    category: AttendeeCategory
    by_status: dict[str, int] = field(default_factory=dict)
    #: Registrations of the category checked in on at least one day.
    checked_in: int = 0


@dataclass
class RegistrationFigures:
    by_status: dict[str, int]
    days: list[DayFigures]
    categories: list[CategoryFigures]
    #: (date, new registrations that day), oldest first, days without any included as 0.
    per_day: list[tuple[date, int]]


def registration_figures(event: Event) -> RegistrationFigures:
    by_status = dict(
        db.session.execute(
            select(Registration.status, func.count()).where(Registration.event_id == event.id).group_by(Registration.status)
        ).all()
    )
    days = {day.id: DayFigures(day) for day in event.days}
    per_day_status = db.session.execute(
        select(registration_day.c.event_day_id, Registration.status, func.count())
        .join(Registration, Registration.id == registration_day.c.registration_id)
        .where(Registration.event_id == event.id, Registration.status != "cancelled")
        .group_by(registration_day.c.event_day_id, Registration.status)
    ).all()
    for day_id, status, count in per_day_status:
        if day_id in days:
            setattr(days[day_id], status, count)
    checked_in = db.session.execute(
        select(CheckIn.event_day_id, func.count())
        .join(EventDay, EventDay.id == CheckIn.event_day_id)
        .where(EventDay.event_id == event.id)
        .group_by(CheckIn.event_day_id)
    ).all()
    for day_id, count in checked_in:
        days[day_id].checked_in = count
    categories = {category.id: CategoryFigures(category) for category in event.categories}
    for category_id, status, count in db.session.execute(
        select(Registration.category_id, Registration.status, func.count())
        .where(Registration.event_id == event.id)
        .group_by(Registration.category_id, Registration.status)
    ).all():
        categories[category_id].by_status[status] = count
    # People (not check-ins) per category who arrived on at least one day.
    arrived = (
        select(Registration.category_id, func.count(func.distinct(CheckIn.registration_id)))
        .join(CheckIn, CheckIn.registration_id == Registration.id)
        .where(Registration.event_id == event.id)
        .group_by(Registration.category_id)
    )
    for category_id, count in db.session.execute(arrived).all():
        categories[category_id].checked_in = count
    return RegistrationFigures(by_status, list(days.values()), list(categories.values()), _per_day(event))


def _per_day(event: Event) -> list[tuple[date, int]]:
    day = func.date(Registration.created_at)
    rows = db.session.execute(
        select(day, func.count()).where(Registration.event_id == event.id).group_by(day).order_by(day)
    ).all()
    if not rows:
        return []
    counts = {_as_date(value): count for value, count in rows}
    first, last = min(counts), max(max(counts), utcnow().date())
    if (last - first).days > 365:
        first = last - timedelta(days=365)
    return [(first + timedelta(days=n), counts.get(first + timedelta(days=n), 0)) for n in range((last - first).days + 1)]


def _as_date(value) -> date:
    # SQLite's date() returns text, PostgreSQL's a date.
    return value if isinstance(value, date) else date.fromisoformat(value)


@dataclass
class SubscriberFigures:
    by_status: dict[str, int]
    by_frequency: dict[str, int]
    #: (topic, confirmed subscribers who chose it), in the topics' own order.
    by_topic: list[tuple[Topic, int]]


def subscriber_figures() -> SubscriberFigures:
    by_status = dict(db.session.execute(select(Subscriber.status, func.count()).group_by(Subscriber.status)).all())
    confirmed = Subscriber.status == SubscriberStatus.CONFIRMED.value
    by_frequency = dict(
        db.session.execute(select(Subscriber.frequency, func.count()).where(confirmed).group_by(Subscriber.frequency)).all()
    )
    topic_counts = dict(
        db.session.execute(
            select(subscriber_topic.c.topic_id, func.count())
            .join(Subscriber, Subscriber.id == subscriber_topic.c.subscriber_id)
            .where(confirmed)
            .group_by(subscriber_topic.c.topic_id)
        ).all()
    )
    topics = db.session.scalars(select(Topic).order_by(Topic.position)).all()
    return SubscriberFigures(by_status, by_frequency, [(topic, topic_counts.get(topic.id, 0)) for topic in topics])


@dataclass
class ConsentFigures:
    by_action: dict[str, int]
    gpc_share: float | None
    page_views: int
    visits: int
    top_paths: list[tuple[str, int]]


def consent_figures(now: datetime | None = None) -> ConsentFigures:
    since = (now or utcnow()) - timedelta(days=RECENT_DAYS)
    recent = ConsentEvent.created_at >= since
    by_action = dict(
        db.session.execute(select(ConsentEvent.action, func.count()).where(recent).group_by(ConsentEvent.action)).all()
    )
    total, with_gpc = db.session.execute(
        select(func.count(), func.coalesce(func.sum(case((ConsentEvent.gpc, 1), else_=0)), 0)).where(recent)
    ).one()
    views, visits = db.session.execute(
        select(func.count(), func.coalesce(func.sum(case((PageView.new_visit, 1), else_=0)), 0)).where(
            PageView.created_at >= since
        )
    ).one()
    top_paths = db.session.execute(
        select(PageView.path, func.count().label("views"))
        .where(PageView.created_at >= since)
        .group_by(PageView.path)
        .order_by(func.count().desc(), PageView.path)
        .limit(5)
    ).all()
    return ConsentFigures(
        by_action, (with_gpc / total) if total else None, views, visits, [tuple(row) for row in top_paths]
    )


@dataclass
class OutboxFigures:
    queued: int
    sending: int
    failed: int
    oldest_queued_at: datetime | None


def outbox_figures() -> OutboxFigures:
    counts = dict(
        db.session.execute(
            select(OutgoingEmail.status, func.count())
            .where(OutgoingEmail.status.in_([EmailStatus.QUEUED.value, EmailStatus.SENDING.value, EmailStatus.FAILED.value]))
            .group_by(OutgoingEmail.status)
        ).all()
    )
    oldest = db.session.scalar(
        select(func.min(OutgoingEmail.created_at)).where(OutgoingEmail.status == EmailStatus.QUEUED.value)
    )
    return OutboxFigures(
        counts.get(EmailStatus.QUEUED.value, 0),
        counts.get(EmailStatus.SENDING.value, 0),
        counts.get(EmailStatus.FAILED.value, 0),
        oldest,
    )


@dataclass(frozen=True)
class LaneFigures:
    name: str
    waiting: int
    sent_last_minute: int
    #: The configured MAIL_BULK_RATE (bulk lane only), e.g. "14/second".
    rate: str | None
    #: When what waits should be out, at the configured rate (or the last minute's pace).
    expected_finish: datetime | None


def lane_figures() -> list[LaneFigures]:
    """Each mail lane's depth and pace, and when a running mailing should be out."""
    figures = []
    for state in lane_states():
        bulk = state.lane == Lane.BULK.value
        waiting = state.queued + state.sending
        pace = per_second(bulk_limits()) if bulk else None
        if pace is None and state.sent_last_minute:
            pace = state.sent_last_minute / 60
        finish = utcnow() + timedelta(seconds=waiting / pace) if waiting and pace else None
        figures.append(LaneFigures(state.lane, waiting, state.sent_last_minute,
                                   (current_app.config["MAIL_BULK_RATE"] or None) if bulk else None, finish))
    return figures


def bar_chart_svg(series: list[tuple[date, int]], width: int = 640, height: int = 160) -> dict:
    """Geometry for the server-rendered SVG bar chart (the template draws it; no script, no CDN)."""
    if not series:
        return {"bars": [], "width": width, "height": height, "peak": 0}
    peak = max(count for _, count in series) or 1
    slot = width / len(series)
    bars = []
    for index, (day, count) in enumerate(series):
        bar_height = round(count / peak * (height - 20), 1)
        bars.append({
            # Capped: one day of data is a bar, not a wall.
            "x": round(index * slot, 1), "width": max(min(round(slot * 0.8, 1), 24), 1),
            "y": round(height - bar_height, 1), "height": bar_height, "day": day, "count": count,
        })
    return {"bars": bars, "width": width, "height": height, "peak": peak}
