"""Newsletter pages: signup, double opt-in, preference centre, one-click unsubscribe, data rights.

No accounts: a subscriber is recognised by the signed link in their emails.
Every page works without JavaScript. Signup and "email me my link" answer
the same whoever the address belongs to (see intake.py).
"""
import json

from flask import Blueprint, Response, current_app, flash, redirect, render_template, request, session, url_for

from portal.extensions import csrf, db, limiter
from portal.database import utcnow
from portal.newsletter import intake, service
from portal.newsletter.errors import NewsletterLinkError
from portal.forms import ButtonForm
from portal.newsletter.forms import (
    FooterSignupForm,
    ManageLinkForm,
    PreferencesForm,
    SignupForm,
)
from portal.newsletter.models import SignupSource
from portal.newsletter.service import EVENTS_TOPIC, Preferences
from portal.newsletter.tokens import CONFIRM, PREFERENCES, UNSUBSCRIBE, make_subscriber_token
from portal.security import mark_private

bp = Blueprint("newsletter", __name__, url_prefix="/newsletter")

FOOTER_PREFIX = "footer"
#: The last signup of this browser, for "check your inbox" to echo and resend: the visitor's own answers,
#: kept whether or not the address was known, so the page says the same to everyone.
SIGNUP_KEY = "newsletter_signup"


@bp.app_context_processor
def _footer_form():
    """`newsletter_footer_form()` in every template: the footer's signup form."""
    return {"newsletter_footer_form": lambda: FooterSignupForm(formdata=None, prefix=FOOTER_PREFIX)}


@bp.after_request
def _private_when_personal(response):
    # Every page with a token in its address is personal, error pages included.
    if request.view_args and "token" in request.view_args:
        mark_private(response)
    return response


def _signup_rate_limit() -> str:
    return current_app.config["NEWSLETTER_SIGNUP_RATE_LIMIT"]


def _manage_link_rate_limit() -> str:
    return current_app.config["NEWSLETTER_MANAGE_LINK_RATE_LIMIT"]


# --- Signup -----------------------------------------------------------------------------


@bp.route("/", methods=["GET", "POST"])
@limiter.limit(_signup_rate_limit, methods=["POST"])
def signup():
    topics = service.list_topics()
    form = SignupForm().fill_choices(topics)
    if request.method == "GET":
        form.start_unticked()
        if request.args.get("email") == "again" and session.get(SIGNUP_KEY):
            form.email.data = session[SIGNUP_KEY]["email"]
    if not form.validate_on_submit():
        return render_template("newsletter/signup.html", form=form)
    if not form.is_bot:
        intake.request_signup(form.email.data, form.first_name.data, form.chosen_preferences(), SignupSource.PAGE)
        db.session.commit()
    _remember_signup(form.email.data, form.first_name.data, form.chosen_preferences(), SignupSource.PAGE)
    return redirect(url_for(".check_inbox"), code=303)


def _remember_signup(email: str, first_name: str, preferences: Preferences, source: SignupSource) -> None:
    session[SIGNUP_KEY] = {
        "email": email, "first_name": first_name, "topics": list(preferences.topics),
        "wants_events": preferences.wants_events, "frequency": preferences.frequency, "source": source.value,
    }


@bp.post("/footer")
@limiter.limit(_signup_rate_limit)
def footer_signup():
    """The footer's short form; on an error the full page takes over, the address kept."""
    footer = FooterSignupForm(prefix=FOOTER_PREFIX)
    if footer.validate_on_submit():
        if not footer.is_bot:
            intake.request_signup(footer.email.data, "", Preferences.everything(), SignupSource.FOOTER)
            db.session.commit()
        _remember_signup(footer.email.data, "", Preferences.everything(), SignupSource.FOOTER)
        return redirect(url_for(".check_inbox"), code=303)
    form = SignupForm(formdata=None).fill_choices(service.list_topics())
    form.email.data = footer.email.data if isinstance(footer.email.data, str) else ""
    form.start_unticked()
    form.email.errors = list(footer.email.errors) or list(footer.website.errors)
    if footer.csrf_token.errors:
        form.email.errors = ["Your form session expired. Please submit again."]
    return render_template("newsletter/signup.html", form=form), 400


@bp.get("/check-inbox")
def check_inbox():
    signup = session.get(SIGNUP_KEY)
    return render_template("newsletter/check_inbox.html", email=signup["email"] if signup else None,
                           form=ButtonForm())


@bp.post("/check-inbox/resend")
@limiter.limit(_signup_rate_limit)
def resend_confirmation():
    """The same request again: the signup handler decides whether a new email goes out (it caps them)."""
    signup = session.get(SIGNUP_KEY)
    if signup is None:
        return redirect(url_for(".signup"), code=303)
    if ButtonForm().validate_on_submit():
        preferences = Preferences(tuple(signup["topics"]), signup["wants_events"], signup["frequency"])
        intake.request_signup(signup["email"], signup["first_name"], preferences, SignupSource(signup["source"]))
        db.session.commit()
        flash("We are sending the confirmation email again.", "success")
    return redirect(url_for(".check_inbox"), code=303)


@bp.get("/privacy")
def privacy():
    return render_template("newsletter/privacy.html")


# --- Double opt-in ----------------------------------------------------------------------


@bp.route("/confirm/<token>", methods=["GET", "POST"])
def confirm(token: str):
    """GET shows a button; only the POST confirms, so a mail scanner opening the link confirms nothing."""
    subscriber = service.subscriber_from_token(CONFIRM, token)
    form = ButtonForm()
    if form.validate_on_submit():
        if service.confirm_subscription(subscriber):
            db.session.commit()
            flash("Thank you: your subscription is confirmed. We have emailed you a welcome note.", "success")
        elif subscriber.is_bounced:
            flash("Mail to this address has bounced since that link was sent: ask for a new confirmation link below.",
                  "info")
        else:
            flash("Your subscription was already confirmed.", "info")
        return redirect(url_for(".preferences", token=make_subscriber_token(PREFERENCES, subscriber)), code=303)
    return render_template("newsletter/confirm.html", subscriber=subscriber, form=form, token=token)


# --- Preference centre ------------------------------------------------------------------


@bp.route("/preferences/<token>", methods=["GET", "POST"])
def preferences(token: str):
    subscriber = service.subscriber_from_token(PREFERENCES, token)
    topics = service.list_topics()
    if request.method == "GET":
        form = PreferencesForm(formdata=None).fill_choices(topics)
        form.topics.data = [t.slug for t in subscriber.topics] + ([EVENTS_TOPIC] if subscriber.wants_events else [])
        form.frequency.data = subscriber.frequency
        form.paused_until.data = subscriber.paused_until
    else:
        form = PreferencesForm().fill_choices(topics)
        if form.validate_on_submit():
            changes = service.update_preferences(subscriber, form.chosen_preferences(), form.paused_until.data)
            db.session.commit()
            flash("Your preferences are saved." if changes else "Nothing was changed.", "success" if changes else "info")
            return redirect(url_for(".preferences", token=token), code=303)
    return render_template(
        "newsletter/preferences.html", subscriber=subscriber, form=form, button=ButtonForm(), token=token,
        today=utcnow().date(),
    )


@bp.post("/preferences/<token>/unsubscribe")
def unsubscribe_all(token: str):
    subscriber = service.subscriber_from_token(PREFERENCES, token)
    if ButtonForm().validate_on_submit():
        service.unsubscribe(subscriber, source="preferences")
        db.session.commit()
        flash("You are unsubscribed: we will send you no more newsletters or digests.", "success")
    return redirect(url_for(".preferences", token=token), code=303)


RESUBSCRIBE_MESSAGES = {
    "resubscribed": ("Welcome back: you are subscribed again, with the preferences below.", "success"),
    "unchanged": ("You are subscribed already.", "info"),
    "confirmation_sent": ("We have emailed you a confirmation link: press the button in it, and the "
                          "newsletter starts again.", "success"),
    "capped": ("We have sent you several confirmation links today already: please use the latest one.", "info"),
}


@bp.post("/preferences/<token>/resubscribe")
def resubscribe(token: str):
    subscriber = service.subscriber_from_token(PREFERENCES, token)
    if ButtonForm().validate_on_submit():
        outcome = service.resubscribe(subscriber)
        db.session.commit()
        flash(*RESUBSCRIBE_MESSAGES[outcome])
    return redirect(url_for(".preferences", token=token), code=303)


@bp.post("/preferences/<token>/export")
def export(token: str):
    subscriber = service.subscriber_from_token(PREFERENCES, token)
    if not ButtonForm().validate_on_submit():
        return redirect(url_for(".preferences", token=token), code=303)
    data = service.export_subscriber_data(subscriber)
    db.session.commit()
    body = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    return Response(
        body, mimetype="application/json",
        headers={"Content-Disposition": 'attachment; filename="newsletter-data.json"'},
    )


@bp.route("/preferences/<token>/erase", methods=["GET", "POST"])
def erase(token: str):
    """GET explains what erasure does; the POST from that page erases."""
    subscriber = service.subscriber_from_token(PREFERENCES, token)
    form = ButtonForm()
    if form.validate_on_submit():
        service.erase_subscriber(subscriber)
        db.session.commit()
        return render_template("newsletter/erased.html")
    return render_template("newsletter/erase.html", form=form, token=token)


# --- One-click unsubscribe (RFC 8058) --------------------------------------------------


@bp.route("/unsubscribe/<token>", methods=["GET", "POST"])
@csrf.exempt
def unsubscribe(token: str):
    """Mail clients POST `List-Unsubscribe=One-Click` here with no cookies: the signed token is the proof.

    The POST answers 200 at once (no redirect, which some clients do not
    follow); a GET only shows the button.
    """
    subscriber = service.subscriber_from_token(UNSUBSCRIBE, token)
    if request.method == "POST":
        if request.form.get("List-Unsubscribe") != "One-Click":
            return render_template("newsletter/unsubscribe.html", token=token, invalid=True), 400
        service.unsubscribe(subscriber, source="one-click")
        db.session.commit()
        preferences_url = url_for(".preferences", token=make_subscriber_token(PREFERENCES, subscriber))
        return render_template("newsletter/unsubscribed.html", preferences_url=preferences_url)
    return render_template("newsletter/unsubscribe.html", token=token, invalid=False)


# --- "Email me my link" -----------------------------------------------------------------


@bp.route("/manage", methods=["GET", "POST"])
@limiter.limit(_manage_link_rate_limit, methods=["POST"])
def manage():
    form = ManageLinkForm()
    if form.validate_on_submit():
        intake.request_manage_link(form.email.data)
        db.session.commit()
        return redirect(url_for(".link_sent"), code=303)
    return render_template("newsletter/manage.html", form=form)


@bp.get("/link-sent")
def link_sent():
    return render_template("newsletter/link_sent.html")


@bp.errorhandler(NewsletterLinkError)
def _bad_link(exc: NewsletterLinkError):
    db.session.rollback()
    return render_template("newsletter/bad_link.html", status=exc.status, form=ManageLinkForm(formdata=None)), exc.status
