"""Public pages: home, strategic priorities, resources, the site privacy notice, contact, accessibility."""
from urllib.parse import urlencode

from flask import Blueprint, make_response, render_template, request, url_for

from portal.consent.registry import LAST_FILTER_COOKIE
from portal.consent.state import allows
from portal.resources import service

bp = Blueprint("pages", __name__)


@bp.get("/")
def home():
    return render_template("pages/home.html", section_counts=service.section_counts())


@bp.get("/priorities")
def priorities():
    return render_template("pages/priorities.html")


@bp.get("/privacy")
def privacy():
    return render_template("pages/privacy.html")


@bp.get("/contact")
def contact():
    return render_template("pages/contact.html")


@bp.get("/accessibility")
def accessibility():
    return render_template("pages/accessibility.html")


@bp.get("/resources")
def resources():
    # A repeated parameter only comes from a hand-made URL; the first value wins.
    filters = service.choose_filters(request.args.get("topic"), request.args.get("kind"), request.args.get("q"))
    listed = service.list_resources(
        topic=filters.topic.slug if filters.topic else None, kind=filters.kind, search=filters.search
    )
    chosen = {"topic": filters.topic.slug if filters.topic else "", "kind": filters.kind or ""}
    remember = allows("preferences")
    last_filter = None
    if remember and not filters.active:
        # Offered as a shortcut, never applied by itself; re-checked, since a cookie can be edited.
        remembered = request.cookies.get(LAST_FILTER_COOKIE, "")
        last = service.choose_filters(*(remembered.split("|", 1) + [""])[:2]) if remembered else None
        if last and last.active:
            last_filter = {
                "label": " · ".join(x for x in (last.topic.label if last.topic else "",
                                               service.kind_label(last.kind) if last.kind else "") if x),
                "url": url_for("pages.resources") + "?" + urlencode(
                    {"topic": last.topic.slug if last.topic else "", "kind": last.kind or ""}),
            }
    response = make_response(render_template(
        "pages/resources.html",
        filters=filters,
        groups=service.group_resources(listed),
        count=len(listed),
        topics=service.list_topics(),
        kinds=[(kind, service.kind_label(kind)) for kind in service.list_kinds()],
        kind_label=service.kind_label,
        resource_href=service.resource_href,
        last_filter=last_filter,
    ))
    if remember and (filters.topic or filters.kind):
        response.set_cookie(LAST_FILTER_COOKIE, f"{chosen['topic']}|{chosen['kind']}", max_age=30 * 24 * 3600,
                            httponly=True, samesite="Lax", secure=request.is_secure)
    return response
