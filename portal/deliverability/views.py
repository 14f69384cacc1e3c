"""The admin deliverability page: bounce and complaint rates against the mailbox providers' lines,
and the suppression list (search, clear an entry).

A blueprint of its own under /admin, with the admin blueprint's login and second-factor check
and private headers, for the admin role only. The search is a GET form, so a result can be paged
and bookmarked; the address it carries never reaches a log or the page-view counter: the access
logs drop the query string of /admin requests (gunicorn.conf.py, deploy/nginx) and page views
are counted only for public blueprints (portal.consent.service.PUBLIC_BLUEPRINTS).
"""
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from portal.admin.auth import admin_only
from portal.admin.views import _events, guard_admin_pages
from portal.database import one_of
from portal.deliverability import service
from portal.deliverability.forms import SuppressionSearchForm
from portal.deliverability.models import DeliveryEvent, MailSuppression
from portal.extensions import db
from portal.forms import ButtonForm

bp = Blueprint("deliverability", __name__, url_prefix="/admin/deliverability")
guard_admin_pages(bp)

DAYS_SHOWN = 30
EDITIONS_SHOWN = 20
#: Hard bounces at this share of the mail sent say the list holds dead addresses (the common
#: guidance of mailbox providers and sending services); the complaint line is the service's.
BOUNCE_RATE_LINE = 0.02
#: Ids are 32-bit in PostgreSQL (and SQLite refuses larger ints): a larger id or cursor from a
#: tampered link would be a database error, so it counts as no id at all.
_MAX_ID = 2**31 - 1


@bp.app_template_filter("percent")
def percent(fraction: float, short: bool = False) -> str:
    """0.0045 -> "0.45 %"; short, for the lines: 0.003 -> "0.3 %"."""
    return f"{fraction * 100:g} %" if short else f"{fraction * 100:.2f} %"


@bp.app_template_filter("suppression_reason")
def suppression_reason(reason: str) -> str:
    return service.REASON_WORDS.get(reason, reason)


@bp.get("/")
@admin_only
def overview():
    return render_template(
        "deliverability/overview.html", days=service.daily_stats(DAYS_SHOWN),
        editions=service.edition_stats(EDITIONS_SHOWN), complaint_line=service.COMPLAINT_RATE_LINE,
        bounce_line=BOUNCE_RATE_LINE, days_shown=DAYS_SHOWN, events=_events(), event=None,
    )


def _before_id() -> int | None:
    """The keyset cursor of "older entries"; anything but a plausible id shows the first page."""
    raw = request.args.get("before", "")
    return int(raw) if raw.isascii() and raw.isdigit() and 0 < int(raw) <= _MAX_ID else None


@bp.get("/suppressions")
@admin_only
def suppressions():
    form = SuppressionSearchForm(request.args)
    form.validate()
    search = form.search_key()
    entries = service.suppressions(search, _before_id())
    full_page = len(entries) == service.SUPPRESSIONS_PAGE_SIZE
    causes = {event.id: event for event in db.session.scalars(
        select(DeliveryEvent).where(one_of(DeliveryEvent.id, {entry.event_id for entry in entries if entry.event_id})))}
    # A whole address searched for: what came back about it, suppressed or not.
    state = service.address_state(search) if search and "@" in search else None
    return render_template(
        "deliverability/suppressions.html", form=form, entries=entries, causes=causes, search=search,
        state=state, next_before=entries[-1].id if full_page else None, events=_events(), event=None,
    ), 400 if form.errors else 200


@bp.route(f"/suppressions/<int(max={_MAX_ID}):suppression_id>/clear", methods=["GET", "POST"])
@admin_only
def clear(suppression_id: int):
    """GET asks for confirmation; POST (with its CSRF token) clears the entry and audits it."""
    entry = db.session.get(MailSuppression, suppression_id)
    if entry is None:
        abort(404)
    if request.method == "POST":
        if not ButtonForm().validate_on_submit():
            abort(400)
        address = entry.address_key
        if service.clear_suppression(address, current_user):
            flash(f"{address} is off the suppression list: bulk mail to it is attempted again.", "success")
        else:  # cleared by someone else a moment ago
            flash(f"{address} was no longer on the suppression list.", "info")
        db.session.commit()
        return redirect(url_for(".suppressions"), code=303)
    return render_template(
        "deliverability/clear.html", entry=entry, state=service.address_state(entry.address_key),
        button=ButtonForm(formdata=None), events=_events(), event=None,
    )
