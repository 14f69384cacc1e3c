"""Policy Summit registration pages: parse the request, call the service, render.

No login: an attendee manages their registration through the signed link in
their emails (see tokens.py). Every page works without JavaScript.
"""
import json

from flask import (
    Blueprint, Response, abort, current_app, flash, g, make_response, redirect, render_template, request, session, url_for,
)
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from portal.database import is_lock_contention, utcnow
from portal.deferred.intake import defer_request
from portal.errors import database_connection_lost, render_error
from portal.forms import ButtonForm
from portal.extensions import db, limiter
from portal.newsletter import intake as newsletter_intake
from portal.newsletter.models import SignupSource
from portal.newsletter.service import Preferences
from portal.registration import data_rights, display, holds, service, visitor_emails
from portal.registration.certificate import NoAttendance, attended_days, certificate_pdf, certificate_response
from portal.security import mark_private
from portal.registration.errors import (
    DaysUnavailable,
    EventNotFound,
    InvalidManageToken,
    RegistrationBusy,
    RegistrationCancelled,
    RegistrationClosed,
)
from portal.registration.forms import (
    ANSWER_FIELDS,
    CancelForm,
    ChangeForm,
    LostLinkForm,
    RegistrationForm,
    day_choices,
    day_positions,
    days_choice_value,
)

bp = Blueprint("registration", __name__)

# Session key: what the "check your inbox" page echoes after the redirect: the address as
# typed (so a typo shows), the days and the category. The session cookie is signed, not
# encrypted, and HttpOnly: it holds only what its own browser just sent. No place in line
# (that would reveal who else is waiting; the registrant gets it by email).
OUTCOME_KEY = "registration.outcome"
BUSY_RETRY_AFTER_SECONDS = 5


@bp.after_request
def _private_when_personal(response):
    # Manage pages (and their error pages) are reached by a personal link.
    if request.view_args and "token" in request.view_args:
        mark_private(response)
    return response


@bp.app_context_processor
def _featured_summit():
    """`featured_summit()` in every template: the event the site header announces (once per request)."""

    def featured_summit():
        if "featured_summit" not in g:
            try:
                g.featured_summit = service.featured_event()
            except SQLAlchemyError:
                # The layout must still render when the database is down: error pages use it.
                db.session.rollback()
                g.featured_summit = None
        return g.featured_summit

    return {"featured_summit": featured_summit}


@bp.app_template_filter("registration_moment")
def _registration_moment(aware_datetime) -> str:
    return display.moment(aware_datetime)


@bp.app_template_filter("category_with_fee")
def _category_with_fee(category) -> str:
    return display.category_with_fee(category)


@bp.app_template_filter("place")
def _place(event) -> str:
    return display.place(event.city, event.region)


@bp.app_template_filter("days_dates")
def _days_dates(days) -> str:
    return display.days_dates(days)


def _registration_rate_limit() -> str:
    return current_app.config["REGISTRATION_RATE_LIMIT"]


def _lost_link_rate_limit() -> str:
    return current_app.config["REGISTRATION_LOST_LINK_RATE_LIMIT"]


# --- The event and the form ------------------------------------------------------------


@bp.get("/summit")
def summit():
    """The stable entry point other pages link to: the event that is open (or opens next)."""
    event = service.featured_event()
    if event is None:
        return render_template("registration/no_event.html")
    return redirect(url_for(".event_page", slug=event.slug))


@bp.get("/events/<slug>")
def event_page(slug: str):
    event = service.get_event(slug)
    return render_template(
        "registration/event.html", event=event, seats=service.seats_for_display(event), now=utcnow()
    )


@bp.get("/events/<slug>/privacy")
def privacy(slug: str):
    return render_template("registration/privacy.html", event=service.get_event(slug))


def _answers_unchecked() -> bool:
    """Only the POST that confirms checked answers counts towards the rate limit: the others write nothing."""
    return "confirm" not in request.form


@bp.route("/events/<slug>/register", methods=["GET", "POST"])
@limiter.limit(_registration_rate_limit, methods=["POST"], exempt_when=_answers_unchecked)
def register(slug: str):
    """The form, then "check your answers", then the seat is decided.

    Without JavaScript or any server-side draft, the answers travel as hidden
    fields between the steps: "Change" posts them back to the form, "Read the
    privacy notice" posts them to the notice and its "Back" button returns them.
    """
    event = service.get_event(slug)
    if not event.is_open(utcnow()):
        return _closed_page(event)
    form = RegistrationForm().fill_choices(event, service.seats_for_display(event))
    if request.method == "POST" and request.form.get("show") == "privacy":
        return render_template("registration/privacy.html", event=event, answers=_carried_answers())
    change = request.form.get("change")
    if change in ANSWER_FIELDS:
        # Back from the check page or the notice: the answers as they were, no error messages yet.
        form.focus(change)
        return render_template("registration/register.html", event=event, form=form)
    if not form.validate_on_submit():
        # First visit, or errors: 200 with every value kept and each error next to its field.
        return render_template("registration/register.html", event=event, form=form)
    if "confirm" not in request.form:
        return render_template(
            "registration/check.html", event=event, form=form, answers=_carried_answers(),
            category=event.category(form.category.data),
            days_label=display.days_choice_label(event.days, _chosen_days(event, form.days.data)),
        )

    positions = day_positions(form.days.data, event)
    if form.is_bot:
        # Look exactly like success to whoever filled the honeypot, and write nothing.
        outcome = service.preview_outcome(event, positions)
    else:
        outcome = service.register_attendee(
            event,
            service.AttendeeDetails(
                first_name=form.first_name.data,
                last_name=form.last_name.data,
                email=form.email.data,
                organization=form.organization.data,
                job_title=form.job_title.data,
                category_code=form.category.data,
                day_positions=positions,
                dietary=form.dietary.data,
                accessibility=form.accessibility.data,
            ),
        )
        if form.newsletter.data:
            # Same transaction: no subscription request without the registration, and vice versa.
            newsletter_intake.request_signup(
                form.email.data, form.first_name.data, Preferences.everything(), SignupSource.REGISTRATION
            )
        db.session.commit()
    # `slug`, not event.slug: the commit expired the event, and reloading it would cost three queries.
    # What the visitor typed and chose, whatever happened: the same for a known and an unknown address.
    session[OUTCOME_KEY] = {
        "event": slug, "status": outcome.status, "email": form.email.data,
        "category": form.category.data, "days": list(positions),
    }
    return redirect(url_for(".registered", slug=slug), code=303)


def _carried_answers() -> list[tuple[str, str]]:
    """The form's answers as (name, value) pairs for hidden fields; nothing else the request held."""
    return [(name, value) for name in ANSWER_FIELDS for value in request.form.getlist(name)]


def _chosen_days(event, choice: str):
    return [event.day_at(position) for position in day_positions(choice, event)]


@bp.get("/events/<slug>/registered")
def registered(slug: str):
    """"Check your inbox": the same page for a new and an already registered address."""
    event = service.get_event(slug)
    outcome = session.get(OUTCOME_KEY)
    if not outcome or outcome.get("event") != event.slug:
        return redirect(url_for(".event_page", slug=event.slug))
    try:
        category = event.category(outcome["category"])
        days = [event.day_at(position) for position in outcome["days"]]
    except (KeyError, LookupError):
        # A session from before the page echoed the answers, or an event edited since.
        return redirect(url_for(".event_page", slug=event.slug))
    return render_template(
        "registration/registered.html", event=event, outcome=outcome, category=category,
        days_label=display.days_choice_label(event.days, days),
    )


def _closed_page(event):
    return render_template("registration/closed.html", event=event, now=utcnow())


# --- Managing a registration -----------------------------------------------------------


@bp.route("/manage/<token>", methods=["GET", "POST"])
def manage(token: str):
    registration = service.registration_from_token(token)
    event = registration.event
    form = ChangeForm(
        data={
            "days": days_choice_value(registration),
            "dietary": registration.dietary,
            "accessibility": registration.accessibility,
        }
    )
    held = registration.day_ids if registration.is_confirmed else frozenset()
    form.days.choices = day_choices(event, service.seats_for_display(event), held)
    if form.validate_on_submit():
        try:
            result = service.change_registration(
                registration.id, day_positions(form.days.data, event), form.dietary.data, form.accessibility.data
            )
        except DaysUnavailable as exc:
            db.session.rollback()
            days = " and ".join(f"{day.label} ({day.date_label})" for day in exc.full_days)
            form.days.errors = [f"{days} is full, so we could not change your days. Your registration is unchanged."]
        except (RegistrationClosed, RegistrationCancelled):
            db.session.rollback()
            return redirect(url_for(".manage", token=token), code=303)
        else:
            db.session.commit()
            if result.promoted:
                flash(
                    "Your registration is updated and you now have a seat. We have emailed you the details.",
                    "success",
                )
            elif result.changes:
                flash("Your registration is updated. We have emailed you the details.", "success")
            else:
                flash("Nothing was changed.", "info")
            return redirect(url_for(".manage", token=token), code=303)
    return render_template(
        "registration/manage.html",
        registration=registration,
        event=event,
        form=form,
        token=token,
        position=service.waitlist_position(registration),
        changes_open=service.changes_open(event),
        attended_days=attended_days(registration) if registration.is_confirmed else [],
        button=ButtonForm(),
    )


@bp.get("/manage/<token>/certificate.pdf")
def certificate(token: str):
    """The certificate of attendance, once the attendee was checked in on at least one day."""
    registration = service.registration_from_token(token)
    try:
        pdf = certificate_pdf(registration)
    except NoAttendance:
        abort(404)
    return certificate_response(registration, pdf)


@bp.route("/manage/<token>/cancel", methods=["GET", "POST"])
def cancel(token: str):
    """GET asks "are you sure?"; only the POST from that page cancels."""
    registration = service.registration_from_token(token)
    if registration.is_cancelled:
        return redirect(url_for(".manage", token=token))
    form = CancelForm()
    if form.validate_on_submit():
        try:
            service.cancel_registration(registration.id)
        except RegistrationClosed:
            db.session.rollback()
            return redirect(url_for(".manage", token=token), code=303)
        db.session.commit()
        flash("Your registration is cancelled. We have emailed you a confirmation.", "success")
        return redirect(url_for(".manage", token=token), code=303)
    return render_template(
        "registration/cancel.html",
        registration=registration,
        event=registration.event,
        form=form,
        token=token,
        changes_open=service.changes_open(registration.event),
    )


@bp.post("/manage/<token>/export")
def export_data(token: str):
    """Everything held about the registration, as a JSON download."""
    registration = service.registration_from_token(token)
    if not ButtonForm().validate_on_submit():
        return redirect(url_for(".manage", token=token), code=303)
    body = json.dumps(data_rights.export_registration_data(registration), indent=2, ensure_ascii=False) + "\n"
    return Response(body, mimetype="application/json", headers={
        "Content-Disposition": f'attachment; filename="registration-{registration.code}.json"'})


@bp.route("/manage/<token>/erase", methods=["GET", "POST"])
def erase(token: str):
    """GET explains what erasure does; only the POST from that page erases."""
    registration = service.registration_from_token(token)
    event = registration.event
    form = ButtonForm()
    if form.validate_on_submit():
        data_rights.erase_registration(registration.id)
        db.session.commit()
        return render_template("registration/erased.html", event=event)
    return render_template("registration/erase.html", registration=registration, event=event, form=form,
                           token=token, before_event=event.ends_at > utcnow())


@bp.route("/verify/<token>", methods=["GET", "POST"])
def verify_email(token: str):
    """REGISTRATION_CONFIRM_EMAIL: GET shows a button; only the POST confirms (mail scanners open links)."""
    registration = holds.registration_from_verify_token(token)
    form = ButtonForm()
    if form.validate_on_submit():
        if holds.confirm_email(registration.id):
            db.session.commit()
            flash("Thank you: your address is confirmed. We have emailed you the details.", "success")
        return redirect(url_for(".verify_email", token=token), code=303)
    return render_template("registration/verify.html", registration=registration, event=registration.event,
                           form=form, hold_hours=current_app.config["REGISTRATION_HOLD_HOURS"])


@bp.route("/manage/lost-link", methods=["GET", "POST"])
@limiter.limit(_lost_link_rate_limit, methods=["POST"])
def lost_link():
    """Always the same answer; the link only goes to an address that is registered."""
    form = LostLinkForm()
    if form.validate_on_submit():
        # Decided by a task after the response: a registered and an unknown address cost the same.
        defer_request(visitor_emails.LOST_LINK_REQUEST, form.email.data)
        db.session.commit()
        return redirect(url_for(".link_sent"), code=303)
    return render_template("registration/lost_link.html", form=form)


@bp.get("/manage/link-sent")
def link_sent():
    return render_template("registration/link_sent.html")


# --- Errors with their own pages -------------------------------------------------------


@bp.errorhandler(EventNotFound)
def _event_not_found(exc):
    return render_error(404, "Event not found", "There is no event at this address. It may have moved or ended.")


@bp.errorhandler(RegistrationClosed)
def _registration_closed(exc):
    db.session.rollback()
    return _closed_page(service.get_event(exc.event_slug))


@bp.errorhandler(InvalidManageToken)
def _invalid_manage_link(exc: InvalidManageToken):
    return render_template("registration/bad_link.html", status=exc.status, form=LostLinkForm()), exc.status


@bp.errorhandler(RegistrationBusy)
def _busy(exc):
    db.session.rollback()
    return _busy_response()


@bp.errorhandler(OperationalError)
def _database_busy(exc: OperationalError):
    # Defensive: lock contention outside the service's own handling is still "busy", never a 500.
    if not is_lock_contention(exc):
        return database_connection_lost(exc)  # a lost connection is "try again" too; anything else raised
    db.session.rollback()
    return _busy_response()


def _busy_response():
    body, status = render_error(
        503,
        "Lots of people are registering right now",
        "We could not save your request in time, and nothing was changed. Please go back and submit the "
        "form again in a few seconds.",
    )
    response = make_response(body, status)
    response.headers["Retry-After"] = str(BUSY_RETRY_AFTER_SECONDS)
    return response
