"""Which resources are worth highlighting: the one selection digests and emails draw from.

Live entries only (not retired) whose address did not fail its last check;
featured first, then the newest additions, then catalog order.
"""
from dataclasses import dataclass

from sqlalchemy import case, or_, select

from portal.extensions import db
from portal.resources.models import Resource, Topic
from portal.resources.service import resource_href

#: What a registration confirmation or welcome email leads with: an attendee of a
#: policy summit is most likely to want these.
POLICY_FIRST = ("policy", "regulatory")


@dataclass(frozen=True)
class Highlight:
    """A resource as an email shows it; plain values, so a rendered email needs no session."""

    id: int
    title: str
    organization: str | None
    summary: str
    link: str
    topic_slugs: frozenset[str]
    topic_labels: tuple[str, ...]


def _live():
    """Not retired, and the address did not fail its last check."""
    return (
        select(Resource)
        .where(
            Resource.retired_at.is_(None),
            # Never checked, or the last check got an answer below 400 (portal-only entries have no address).
            or_(Resource.link_checked_at.is_(None), Resource.url.is_(None),
                Resource.link_status.between(100, 399)),
        )
    )


BEST_FIRST = (Resource.featured.desc(), Resource.added_on.desc(), Resource.position)


def digest_candidates(topic_slugs: list[str] | None = None) -> list[Resource]:
    """Resources a digest may carry, best first; limited to these topics when given."""
    query = _live().order_by(*BEST_FIRST)
    if topic_slugs:
        query = query.where(Resource.topics.any(Topic.slug.in_(topic_slugs)))
    return list(db.session.scalars(query))


def links_in_doubt() -> list[str]:
    """Slugs of candidates whose latest checks got no answer: one more such check may leave them out."""
    return list(db.session.scalars(_live().with_only_columns(Resource.slug)
                                   .where(Resource.link_failures > 0).order_by(*BEST_FIRST)))


def as_highlight(resource: Resource) -> Highlight:
    return Highlight(
        id=resource.id,
        title=resource.title,
        organization=resource.organization,
        summary=resource.summary,
        link=resource_href(resource, external=True),
        topic_slugs=frozenset(topic.slug for topic in resource.topics),
        topic_labels=tuple(topic.label for topic in resource.topics),
    )


def highlight_pool() -> list[Highlight]:
    """Every candidate, best first, as plain values: a digest run loads this once per batch."""
    return [as_highlight(resource) for resource in digest_candidates()]


def pick_highlights(pool: list[Highlight], topics: set[str], exclude: set[int], limit: int) -> list[Highlight]:
    """The first `limit` of the pool on any of `topics` that are not in `exclude`, in pool order."""
    chosen = []
    for highlight in pool:
        if highlight.id not in exclude and highlight.topic_slugs & topics:
            chosen.append(highlight)
            if len(chosen) == limit:
                break
    return chosen


def email_highlights(limit: int = 3, topics: list[str] | None = None) -> list[Highlight]:
    """Up to `limit` highlights for a transactional email: policy and regulatory ones first.

    `topics` (a subscriber's choice) narrows the selection when given.
    """
    policy_first = case((Resource.topics.any(Topic.slug.in_(POLICY_FIRST)), 0), else_=1)
    query = _live().order_by(policy_first, *BEST_FIRST).limit(limit)
    if topics:
        query = query.where(Resource.topics.any(Topic.slug.in_(topics)))
    return [as_highlight(resource) for resource in db.session.scalars(query)]
