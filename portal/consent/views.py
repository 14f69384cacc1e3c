"""The banner's form handler, the cookie policy page, and the first-party page-view counter."""
from flask import Blueprint, Response, current_app, g, jsonify, make_response, render_template, request, url_for

from portal.consent import service
from portal.consent.forms import ConsentForm
from portal.consent.registry import (
    CATEGORIES, CONSENT_COOKIE, ITEMS, OPTIONAL, VISIT_COOKIE, cookies_of,
)
from portal.consent.state import allows, current_choice, gpc_signal, visitor_language
from portal.database import commit_each_statement
from portal.extensions import csrf, db, limiter
from portal.links import safe_redirect_path

bp = Blueprint("consent", __name__)


def _analytics_rate_limit() -> str:
    return current_app.config["ANALYTICS_RATE_LIMIT"]


@bp.app_context_processor
def _consent_banner():
    """What base.html needs for the banner: shown until a valid choice exists."""

    def consent_banner():
        if "consent_banner" in g:
            return g.consent_banner
        choice = current_choice()
        form = ConsentForm(formdata=None, next=request.path)
        g.consent_banner = {
            "needs_prompt": choice is None,
            "choice": choice,
            "gpc": gpc_signal(),
            "form": form,
            "categories": CATEGORIES,
            # Never on a page reached by a personal link: the counter would post its address.
            "analytics": allows("analytics") and service.is_public_page(request.url_rule),
        }
        return g.consent_banner

    return {"consent_banner": consent_banner}


@bp.post("/consent")
def decide():
    # CSRFProtect has already checked the token before this view runs; the fields are
    # plain values the service checks, so no form object is needed here.
    wants_json = request.accept_mimetypes.best == "application/json"
    # The log row is the decision's only write: committed as it is written, it costs
    # one round trip instead of three (BEGIN, INSERT, COMMIT).
    commit_each_statement()
    try:
        choice, cookie = service.record_choice(
            request.form.get("action", ""),
            request.form.getlist("categories"),
            previous=current_choice(),
            policy_version=current_app.config["CONSENT_POLICY_VERSION"],
            gpc=gpc_signal() or request.form.get("gpc") == "1",
            language=visitor_language(),
        )
    except service.InvalidChoice:
        db.session.rollback()
        if wants_json:
            return jsonify(error="That choice could not be read. Please try again."), 400
        return render_template("consent/invalid.html"), 400
    db.session.commit()
    if wants_json:
        response = jsonify(granted=sorted(choice.granted), consent_id=choice.consent_id)
    else:
        # A bare 303: a browser follows it without showing a body, so none is built.
        back = safe_redirect_path(request.form.get("next")) or url_for("pages.home")
        response = Response(status=303, headers={"Location": back})
    response.set_cookie(
        CONSENT_COOKIE, cookie, max_age=int(service.COOKIE_MAX_AGE.total_seconds()), httponly=True,
        samesite="Lax", secure=request.is_secure or current_app.config["PORTAL_BASE_URL"].startswith("https://"),
    )
    # Taking a category back deletes what it had set.
    for category in set(OPTIONAL) - choice.granted:
        for name in cookies_of(category):
            if name in request.cookies:
                response.delete_cookie(name, samesite="Lax")
    return response


@bp.get("/cookies")
def policy():
    return render_template(
        "consent/policy.html",
        categories=CATEGORIES,
        items=ITEMS,
        choice=current_choice(),
        policy_version=current_app.config["CONSENT_POLICY_VERSION"],
    )


@bp.post("/consent/page-view")
@csrf.exempt  # a counter, not a form: it changes nothing for the visitor and needs their consent cookie
@limiter.limit(_analytics_rate_limit)
def page_view():
    if not allows("analytics"):
        return "", 204
    data = request.get_json(silent=True) or {}
    path, referrer = data.get("path"), data.get("referrer")
    if not isinstance(path, str) or not isinstance(referrer, (str, type(None))):
        return jsonify(error="path must be text"), 400
    if not service.count_page_view(path, referrer, new_visit=VISIT_COOKIE not in request.cookies):
        return "", 204  # a personal link's page or no public page: nothing is stored
    db.session.commit()
    response = make_response("", 204)
    response.set_cookie(VISIT_COOKIE, "1", max_age=30 * 60, httponly=True, samesite="Lax",
                        secure=request.is_secure)
    return response
