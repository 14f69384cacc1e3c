"""The public digest archive: every edition that went out, readable on the web.

Generic content only: what the edition highlighted across all its readers,
grouped by topic, and the event it announced. Nothing personal, so the
"view in your browser" link of every digest can point here.
"""
from flask import Blueprint, abort, render_template
from sqlalchemy import select

from portal.digests import service
from portal.digests.errors import UnknownEdition
from portal.extensions import db
from portal.registration.models import Event
from portal.resources.highlights import as_highlight
from portal.resources.models import Resource
from portal.resources.service import list_topics

bp = Blueprint("digests", __name__, url_prefix="/newsletter/archive")


@bp.get("/")
def archive():
    return render_template("digests/archive.html", editions=service.public_editions())


@bp.get("/<int:edition_id>")
def edition(edition_id: int):
    try:
        found = service.get_edition(edition_id)
    except UnknownEdition:
        abort(404)
    if not found.is_public:
        abort(404)
    resources = db.session.scalars(select(Resource).where(Resource.id.in_(found.resource_ids or [0]))).all()
    highlights = sorted((as_highlight(r) for r in resources), key=lambda h: h.title.lower())
    sections = []
    for topic in list_topics():
        items = [h for h in highlights if topic.slug in h.topic_slugs]
        if items:
            sections.append((topic, items))
    event = db.session.get(Event, found.event_id) if found.event_id else None
    return render_template("digests/edition.html", edition=found, sections=sections, event=event)
