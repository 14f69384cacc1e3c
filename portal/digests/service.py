"""Digest editions: who gets one, what it highlights, and how a run survives crashes.

An edition is composed in id-ordered batches of subscribers. Each batch runs
in one transaction that holds the edition's row lock, writes a DigestDelivery
row and (unless skipped) an outbox email per subscriber, and moves the
checkpoint: a run that dies loses at most its open batch, which simply
happens again. Delivery is the outbox's job (portal.mail), which sends each
batch's emails over one SMTP connection per hundred.

Functions change the session and flush; the caller commits.
"""
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import lazyload

from portal.database import bulk_insert, one_of, select_for_update, utcnow
from portal.digests import emails
from portal.digests.errors import UnknownEdition, UnknownSubscriber
from portal.digests.models import DigestDelivery, DigestEdition, EditionStatus
from portal.extensions import db
from portal.links import absolute_url
from portal.mail.models import EmailStatus, OutgoingEmail
from portal.newsletter.models import Frequency, Subscriber, SubscriberStatus, SuppressedAddress, subscriber_topic
from portal.newsletter.service import suppression_hash
from portal.registration.display import short_date
from portal.registration.service import featured_event, seats_for_display
from portal.resources.highlights import Highlight, highlight_pool, links_in_doubt, pick_highlights
from portal.resources.linkcheck import last_check_runs
from portal.resources.models import Topic

LOCK_TIMEOUT_MS = 10_000


# --- Editions ------------------------------------------------------------------------


def period_start(frequency: str, day: date) -> date:
    """The Monday of `day`'s week, or the first of its month."""
    if frequency == Frequency.WEEKLY.value:
        return day - timedelta(days=day.weekday())
    return day.replace(day=1)


def start_edition(frequency: str, day: date | None = None) -> tuple[DigestEdition, bool]:
    """The edition of `frequency` for the period containing `day` (today): found, or created.

    Returns (edition, created). Starting a period twice (beat and the CLI, two
    beat processes by mistake) finds the first one's edition, so a period is
    mailed once.
    """
    if frequency not in {f.value for f in Frequency}:
        raise ValueError(f"unknown frequency {frequency!r}")
    start = period_start(frequency, day or utcnow().date())
    existing = _edition_of(frequency, start)
    if existing is not None:
        return existing, False
    edition = DigestEdition(frequency=frequency, period_start=start)
    try:
        with db.session.begin_nested():
            db.session.add(edition)
    except IntegrityError:  # another process created it a moment ago
        return _edition_of(frequency, start), False
    return edition, True


def _edition_of(frequency: str, start: date) -> DigestEdition | None:
    return db.session.scalar(
        select(DigestEdition).where(DigestEdition.frequency == frequency, DigestEdition.period_start == start)
    )


def get_edition(edition_id: int) -> DigestEdition:
    edition = db.session.get(DigestEdition, edition_id)
    if edition is None:
        raise UnknownEdition(str(edition_id))
    return edition


def public_editions(limit: int = 100) -> list[DigestEdition]:
    """The archive: editions that went out, newest first."""
    return list(db.session.scalars(
        select(DigestEdition)
        .where(DigestEdition.status != EditionStatus.COMPOSING.value, DigestEdition.planned > 0)
        .order_by(DigestEdition.period_start.desc(), DigestEdition.frequency)
        .limit(limit)
    ))


def is_stalled(edition: DigestEdition) -> bool:
    """Composing, but no batch for DIGEST_STALL_SECONDS: its task chain was lost (a crash, a broker outage)."""
    quiet_for = (utcnow() - edition.progressed_at).total_seconds()
    return edition.status == EditionStatus.COMPOSING.value and quiet_for > current_app.config["DIGEST_STALL_SECONDS"]


def editions_in_progress() -> list[int]:
    return list(db.session.scalars(
        select(DigestEdition.id).where(DigestEdition.status != EditionStatus.DONE.value).order_by(DigestEdition.id)
    ))


# --- Who gets a digest -------------------------------------------------------------------


def _recipients(frequency: str, on_day: date):
    """Confirmed subscribers of this frequency who are not paused on `on_day`."""
    return select(Subscriber).options(lazyload(Subscriber.topics)).where(
        Subscriber.status == SubscriberStatus.CONFIRMED.value,
        Subscriber.frequency == frequency,
        Subscriber.email_key.is_not(None),
        (Subscriber.paused_until.is_(None)) | (Subscriber.paused_until <= on_day),
    )


def _next_recipients(edition: DigestEdition, limit: int) -> list[Subscriber]:
    return list(db.session.scalars(
        _recipients(edition.frequency, utcnow().date())
        .where(Subscriber.id > edition.last_subscriber_id)
        .order_by(Subscriber.id)
        .limit(limit)
    ))


def _topics_of(subscriber_ids: list[int]) -> dict[int, set[str]]:
    """Per subscriber, the slugs of their topics: one query for a batch.

    The batch's subscribers are loaded without their `topics` relationship
    (see _recipients): only the slugs are used, and building Topic objects and
    collections for hundreds of readers would cost more than the digests.
    """
    topics: dict[int, set[str]] = {subscriber_id: set() for subscriber_id in subscriber_ids}
    rows = db.session.execute(
        select(subscriber_topic.c.subscriber_id, Topic.slug)
        .join(Topic, Topic.id == subscriber_topic.c.topic_id)
        .where(one_of(subscriber_topic.c.subscriber_id, subscriber_ids))
    )
    for subscriber_id, slug in rows:
        topics[subscriber_id].add(slug)
    return topics


def _already_highlighted(subscribers: list[Subscriber]) -> dict[int, set[int]]:
    """Per subscriber, every resource an earlier digest or their welcome email carried: never sent again."""
    seen = {subscriber.id: set(subscriber.welcome_resource_ids or ()) for subscriber in subscribers}
    rows = db.session.execute(
        select(DigestDelivery.subscriber_id, DigestDelivery.resource_ids)
        .where(one_of(DigestDelivery.subscriber_id, seen))
    )
    for subscriber_id, resource_ids in rows:
        seen[subscriber_id].update(resource_ids or ())
    return seen


def _suppressed(subscribers: list[Subscriber]) -> set[int]:
    """Subscribers whose address is on the erasure suppression list (a belt to the status's braces)."""
    hashes = {suppression_hash(s.email_key): s.id for s in subscribers}
    found = db.session.scalars(select(SuppressedAddress.address_hash).where(one_of(SuppressedAddress.address_hash, hashes)))
    return {hashes[h] for h in found}


# --- The upcoming event block ---------------------------------------------------------------


@dataclass(frozen=True)
class UpcomingEvent:
    """The "upcoming event" block: plain values, the same for every digest of a batch."""

    id: int
    title: str
    dates: str
    city: str
    #: (day label, seats left) per day; the register button shows while any is free.
    seats: tuple[tuple[str, int], ...]
    register_url: str
    open_now: bool

    @property
    def seats_left(self) -> int:
        return max((left for _, left in self.seats), default=0)


def upcoming_event() -> UpcomingEvent | None:
    """The event /summit shows (open for registration, or the next to open), with seats left per day."""
    event = featured_event()
    if event is None:
        return None
    seats = seats_for_display(event)
    per_day = []
    for day in event.days:
        left = seats.per_day.get(day.id, 0)
        if seats.overall is not None:
            left = min(left, seats.overall)
        per_day.append((short_date(day.date), left))
    return UpcomingEvent(
        id=event.id, title=event.title, dates=event.dates_label, city=event.city, seats=tuple(per_day),
        register_url=absolute_url("registration.event_page", slug=event.slug), open_now=event.is_open(utcnow()),
    )


def _selections(subscribers: list[Subscriber], pool: list[Highlight], limit: int) -> dict[int, list[Highlight]]:
    """Per subscriber, the highlights their digest carries (none: skipped).

    The one rule composing and the dry run share, so the dry run cannot drift from what is sent.
    """
    seen = _already_highlighted(subscribers)
    topics = _topics_of([s.id for s in subscribers])
    suppressed = _suppressed(subscribers)
    return {
        subscriber.id: [] if subscriber.id in suppressed else pick_highlights(
            pool, topics[subscriber.id], seen[subscriber.id], limit)
        for subscriber in subscribers
    }


# --- Composing ---------------------------------------------------------------------------


@dataclass
class BatchResult:
    queued: int = 0
    skipped: int = 0
    #: True once every subscriber has been decided: no further batch is needed.
    finished: bool = False


def compose_next_batch(edition_id: int) -> BatchResult:
    """Decide the next batch of subscribers after the checkpoint: queue their digests or skip them.

    The digests go to the outbox's bulk lane, whose workers send them at MAIL_BULK_RATE.

    Hazard: two tasks for the same edition (a redelivered message, the sweeper
    and a chain) must not both take the same batch. The edition's row lock
    makes the second wait and then read the moved checkpoint; the unique
    (edition, subscriber) row would refuse a duplicate anyway.
    """
    edition = select_for_update(
        select(DigestEdition).where(DigestEdition.id == edition_id).execution_options(populate_existing=True),
        timeout_ms=LOCK_TIMEOUT_MS,
    ).scalar_one_or_none()
    if edition is None:
        raise UnknownEdition(str(edition_id))
    result = BatchResult()
    if edition.status != EditionStatus.COMPOSING.value:
        result.finished = True
        return result
    config = current_app.config
    size = config["DIGEST_BATCH_SIZE"]
    subscribers = _next_recipients(edition, size)
    if subscribers:
        _compose_for(edition, subscribers, config["DIGEST_HIGHLIGHTS"], result)
        edition.last_subscriber_id = subscribers[-1].id
    edition.progressed_at = utcnow()
    if len(subscribers) < size:
        edition.status = EditionStatus.SENDING.value
        edition.composed_at = utcnow()
        result.finished = True
    db.session.flush()
    return result


def _compose_for(
    edition: DigestEdition, subscribers: list[Subscriber], limit: int, result: BatchResult
) -> None:
    selections = _selections(subscribers, highlight_pool(), limit)
    event = upcoming_event()
    if event is not None and edition.event_id is None:
        edition.event_id = event.id
    renderer = emails.DigestRenderer(edition, event)
    deliveries, messages = [], []
    carried = set(edition.resource_ids or ())
    for subscriber in subscribers:
        chosen = selections[subscriber.id]
        if not chosen:
            deliveries.append({"edition_id": edition.id, "subscriber_id": subscriber.id, "resource_ids": [],
                               "email_id": None})
            result.skipped += 1
            continue
        messages.append(renderer.message(subscriber, chosen))
        deliveries.append({"edition_id": edition.id, "subscriber_id": subscriber.id,
                           "resource_ids": [h.id for h in chosen]})
        carried.update(h.id for h in chosen)
        result.queued += 1
    email_ids = iter(emails.queue_digests(messages))
    for delivery in deliveries:
        if delivery["resource_ids"]:
            delivery["email_id"] = next(email_ids)
    bulk_insert(DigestDelivery.__table__, deliveries)
    edition.planned += result.queued
    edition.skipped += result.skipped
    edition.resource_ids = sorted(carried)


# --- Progress -------------------------------------------------------------------------------


def refresh_edition(edition_id: int) -> DigestEdition:
    """Copy the outbox outcomes of the edition's digests onto it; done once none is still on its way."""
    edition = get_edition(edition_id)
    counts = dict(db.session.execute(
        select(OutgoingEmail.status, func.count())
        .join(DigestDelivery, DigestDelivery.email_id == OutgoingEmail.id)
        .where(DigestDelivery.edition_id == edition_id)
        .group_by(OutgoingEmail.status)
    ).all())
    edition.sent = counts.get(EmailStatus.SENT.value, 0)
    edition.failed = counts.get(EmailStatus.FAILED.value, 0)
    edition.withheld = counts.get(EmailStatus.WITHHELD.value, 0)
    on_the_way = counts.get(EmailStatus.QUEUED.value, 0) + counts.get(EmailStatus.SENDING.value, 0)
    if edition.status == EditionStatus.SENDING.value and not on_the_way:
        edition.status = EditionStatus.DONE.value
        edition.done_at = utcnow()
    db.session.flush()
    return edition


# --- Dry run and preview --------------------------------------------------------------------


@dataclass
class DryRun:
    frequency: str
    period_start: date
    would_send: int = 0
    would_skip: int = 0
    #: highlights per digest -> how many digests would carry that many
    highlights: Counter = field(default_factory=Counter)
    #: (subscriber id, highlights) for each subscriber, in id order
    each: list[tuple[int, int]] = field(default_factory=list)
    #: The real run would check the catalog's links before composing (it creates the edition and
    #: DIGEST_CHECK_LINKS_FIRST is on).
    checks_links_first: bool = False
    #: Slugs of candidates whose latest check got no answer: the only links a check that reaches
    #: the network may take out without an HTTP error (see portal.resources.linkcheck).
    links_in_doubt: list[str] = field(default_factory=list)
    #: When the latest link check could not reach the network (None: it could, or none ran yet).
    last_check_offline_at: datetime | None = None


def dry_run(frequency: str, day: date | None = None) -> DryRun:
    """What an edition started now would send, without writing anything.

    It picks with the links' current states and the same rule composing uses
    (_selections). The real run may check the links first; that check changes
    a link only on definite evidence (an HTTP error, a refused address, or a
    link in doubt failing again while other sites answer) and changes nothing
    when it cannot reach the network, so the prediction holds unless a site
    broke since the last check; `links_in_doubt` names the links that could
    still go.
    """
    config = current_app.config
    start = period_start(frequency, day or utcnow().date())
    existing = _edition_of(frequency, start)
    report = DryRun(frequency, start, checks_links_first=existing is None and config["DIGEST_CHECK_LINKS_FIRST"],
                    links_in_doubt=links_in_doubt())
    last_check, _ = last_check_runs()
    if last_check is not None and last_check.offline:
        report.last_check_offline_at = last_check.finished_at
    pool = highlight_pool()
    after = existing.last_subscriber_id if existing else 0
    decided = existing is not None and existing.status != EditionStatus.COMPOSING.value
    while not decided:
        subscribers = list(db.session.scalars(
            _recipients(frequency, utcnow().date()).where(Subscriber.id > after)
            .order_by(Subscriber.id).limit(config["DIGEST_BATCH_SIZE"])
        ))
        if not subscribers:
            break
        selections = _selections(subscribers, pool, config["DIGEST_HIGHLIGHTS"])
        for subscriber in subscribers:
            count = len(selections[subscriber.id])
            report.each.append((subscriber.id, count))
            if count:
                report.would_send += 1
                report.highlights[count] += 1
            else:
                report.would_skip += 1
        after = subscribers[-1].id
    return report


@dataclass(frozen=True)
class DigestPreview:
    """What one subscriber's next digest would say (for admins); nothing is queued."""

    subscriber_id: int
    highlights: list[Highlight]
    subject: str
    text: str
    html: str


def preview_digest(subscriber_id: int, frequency: str | None = None) -> DigestPreview | None:
    """The digest `subscriber_id` would get from the next edition of their frequency; None if nothing new."""
    subscriber = db.session.get(Subscriber, subscriber_id)
    if subscriber is None or subscriber.email_key is None:
        raise UnknownSubscriber(str(subscriber_id))
    frequency = frequency or subscriber.frequency
    start = period_start(frequency, utcnow().date())
    edition = _edition_of(frequency, start) or DigestEdition(frequency=frequency, period_start=start)
    seen = _already_highlighted([subscriber])[subscriber.id]
    topics = _topics_of([subscriber.id])[subscriber.id]
    chosen = pick_highlights(highlight_pool(), topics, seen, current_app.config["DIGEST_HIGHLIGHTS"])
    if not chosen:
        return None
    rendered = emails.DigestRenderer(edition, upcoming_event()).render_for(subscriber, chosen)
    return DigestPreview(subscriber.id, chosen, rendered.subject, rendered.text, rendered.html)
