"""Digest helpers for tests: confirmed subscribers written straight to the database, editions run inline."""
from sqlalchemy import select

from portal.database import utcnow
from portal.digests import service
from portal.digests.models import DigestDelivery, DigestEdition
from portal.extensions import db
from portal.mail.validation import address_key
from portal.newsletter.models import Subscriber
from portal.resources.models import Topic


def add_subscribers(app, count: int, topics=("regulatory",), frequency="weekly", start: int = 0, **fields) -> list[int]:
    """`count` confirmed subscribers person<n>@example.org following `topics`; returns their ids."""
    with app.app_context():
        chosen = list(db.session.scalars(select(Topic).where(Topic.slug.in_(topics))))
        assert len(chosen) == len(topics), f"unknown topic among {topics}"
        subscribers = []
        for n in range(start, start + count):
            email = f"person{n}@example.org"
            subscribers.append(Subscriber(
                email=email, email_key=address_key(email), status="confirmed", frequency=frequency,
                confirmed_at=utcnow(), topics=chosen, **fields,
            ))
        db.session.add_all(subscribers)
        db.session.commit()
        return [s.id for s in subscribers]


def compose_whole_edition(app, frequency="weekly", day=None) -> int:
    """Start an edition and compose every batch in this process (the worker's job); returns its id."""
    with app.app_context():
        edition, _ = service.start_edition(frequency, day)
        db.session.commit()
        while not service.compose_next_batch(edition.id).finished:
            db.session.commit()
        db.session.commit()
        return edition.id


def edition_counts(app, edition_id: int) -> dict:
    with app.app_context():
        edition = service.refresh_edition(edition_id)
        db.session.commit()
        return {"status": edition.status, "planned": edition.planned, "skipped": edition.skipped,
                "sent": edition.sent, "failed": edition.failed, "withheld": edition.withheld}


def highlighted_slugs(app, edition_id: int, subscriber_id: int) -> list[str]:
    """The resources one subscriber's digest of that edition carried, in digest order."""
    from portal.resources.models import Resource

    with app.app_context():
        delivery = db.session.scalar(select(DigestDelivery).where(
            DigestDelivery.edition_id == edition_id, DigestDelivery.subscriber_id == subscriber_id))
        if delivery is None:
            return []
        slugs = dict(db.session.execute(select(Resource.id, Resource.slug).where(Resource.id.in_(delivery.resource_ids))).all())
        return [slugs[i] for i in delivery.resource_ids]


def editions(app) -> list[DigestEdition]:
    with app.app_context():
        found = list(db.session.scalars(select(DigestEdition).order_by(DigestEdition.id)))
        db.session.expunge_all()
        return found
