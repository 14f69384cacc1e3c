"""Public pages: home, strategic priorities, resources."""
from flask import Blueprint, render_template, request

from portal.resources import service

bp = Blueprint("pages", __name__)


@bp.get("/")
def home():
    return render_template("pages/home.html", section_counts=service.section_counts())


@bp.get("/priorities")
def priorities():
    return render_template("pages/priorities.html")


@bp.get("/resources")
def resources():
    # A repeated parameter only comes from a hand-made URL; the first value wins.
    filters = service.choose_filters(request.args.get("topic"), request.args.get("kind"))
    listed = service.list_resources(
        topic=filters.topic.slug if filters.topic else None, kind=filters.kind
    )
    return render_template(
        "pages/resources.html",
        filters=filters,
        groups=service.group_resources(listed),
        count=len(listed),
        topics=service.list_topics(),
        kinds=[(kind, service.kind_label(kind)) for kind in service.list_kinds()],
        kind_label=service.kind_label,
        resource_href=service.resource_href,
    )
