"""Which resources are worth highlighting: the selection digests and emails draw from.

Live entries only (not retired) whose address did not fail its last check;
featured first, then the newest additions, then catalog order.
"""
from sqlalchemy import or_, select

from portal.extensions import db
from portal.resources.models import Resource, Topic


def digest_candidates(topic_slugs: list[str] | None = None):
    """Resources a digest may carry, best first; limited to these topics when given."""
    query = (
        select(Resource)
        .where(
            Resource.retired_at.is_(None),
            # Never checked, or the last check got an answer below 400 (portal-only entries have no address).
            or_(Resource.link_checked_at.is_(None), Resource.url.is_(None),
                Resource.link_status.between(100, 399)),
        )
        .order_by(Resource.featured.desc(), Resource.added_on.desc(), Resource.position)
    )
    if topic_slugs:
        query = query.where(Resource.topics.any(Topic.slug.in_(topic_slugs)))
    return list(db.session.scalars(query))
