"""Admin pages: login, dashboard, attendees, event settings, check-in.

The blueprint's other pages join it from export_views (exports), account_views
(outbox, accounts, audit log) and content_views (catalog, digests). Every page here needs a logged-in account (the blueprint checks before any
view runs); exports, event settings and the audit log need the admin role.
Pages are private: never cached, never indexed.
"""
import time
from datetime import datetime

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_user, logout_user
from sqlalchemy import select

from portal.admin import attendees as attendee_lists
from portal.admin import dashboard as dashboard_figures
from portal.admin import exports
from portal.admin.audit import record_action
from portal.admin import totp
from portal.admin.auth import LoginRefused, admin_only, check_password, end_session, open_session
from portal.admin.forms import (
    AttendeeExportForm,
    AttendeeFilterForm,
    CapacityForm,
    CheckInForm,
    CodeForm,
    DayCapacityForm,
    EventFileForm,
    LoginForm,
    PresetForm,
)
from portal.admin.models import AdminUser, ExportPreset
from portal.database import LockTimeout
from portal.deliverability import service as deliverability
from portal.extensions import db, limiter
from portal.forms import ButtonForm
from portal.links import safe_redirect_path
from portal.liveness.service import current_report, dashboard_warnings
from portal.registration import checkin, event_setup, service as registrations
from portal.registration.certificate import NoAttendance, certificate_pdf, certificate_response
from portal.registration.display import clock, promoted_sentence
from portal.registration.errors import EmailTaken, EventChangeRefused, RegistrationError
from portal.registration.event_file import EventFileError, event_as_toml, parse_event_text
from portal.registration.forms import OrganiserEditForm
from portal.registration.models import Event, Registration
from portal.security import mark_private

bp = Blueprint("admin", __name__, url_prefix="/admin")

LOGIN_FAILED = "That email and password do not match an active account."
ATTENDEE_PRESET_KIND = "attendees"


#: Reachable without a full login: the login steps and the set-password link.
PUBLIC_ENDPOINTS = {"admin.login", "admin.login_code", "admin.set_password"}
#: Reachable while ADMIN_REQUIRE_2FA waits for an account to set up its second factor.
ENROLMENT_ENDPOINTS = {"admin.two_factor", "admin.logout"}


@bp.before_request
def _require_login():
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    if not current_user.is_authenticated:
        return current_app.login_manager.unauthorized()
    if (current_app.config["ADMIN_REQUIRE_2FA"] and current_user.totp_secret is None
            and request.endpoint not in ENROLMENT_ENDPOINTS):
        flash("Please set up the second factor before going on: this portal requires it.", "info")
        return redirect(url_for("admin.two_factor"))
    return None


@bp.after_request
def _private(response):
    mark_private(response)
    if request.endpoint == "admin.check_in":
        # The scanner uses the device camera on this one page.
        response.headers["Permissions-Policy"] = "camera=(self), microphone=(), geolocation=(), interest-cohort=()"
    return response


def guard_admin_pages(blueprint: Blueprint) -> None:
    """Another domain's admin pages (e.g. portal.deliverability) get this blueprint's login check and headers."""
    blueprint.before_request(_require_login)
    blueprint.after_request(_private)


@bp.app_context_processor
def _admin_context():
    return {"admin_user": current_user if current_user and current_user.is_authenticated else None}


def _login_rate_limit() -> str:
    return current_app.config["ADMIN_LOGIN_RATE_LIMIT"]


def _login_account_key() -> str:
    return "admin-login:" + (request.form.get("email") or "").strip().lower()[:320]


def _code_account_key() -> str:
    pending = session.get(PENDING_SECOND_FACTOR) or {}
    return f"admin-login-code:{pending.get('account', '')}"


# --- Login -------------------------------------------------------------------------------

#: Session key while the password is right and the authenticator code is still to come.
PENDING_SECOND_FACTOR = "admin_pending_2fa"
#: Seconds between the password and the code before the password must be typed again.
SECOND_FACTOR_WINDOW = 300


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_rate_limit, methods=["POST"])
@limiter.limit(_login_rate_limit, methods=["POST"], key_func=_login_account_key)
def login():
    if current_user.is_authenticated:
        return redirect(url_for(".dashboard"))
    form = LoginForm()
    error = None
    if form.validate_on_submit():
        try:
            account = check_password(form.email.data, form.password.data, request.remote_addr)
        except LoginRefused:
            db.session.commit()  # the failed attempt stays in the audit log
            error = LOGIN_FAILED
        else:
            next_path = safe_redirect_path(request.args.get("next"), within="/admin")
            # Nothing from before the password survives into what follows.
            session.clear()
            if account.totp_secret is not None:
                session[PENDING_SECOND_FACTOR] = {"account": account.id, "at": time.time(), "next": next_path}
                return redirect(url_for(".login_code"), code=303)
            return _logged_in(account, next_path)
    status = 401 if error else (400 if form.errors else 200)
    return render_template("admin/login.html", form=form, error=error), status


def _logged_in(account: AdminUser, next_path: str | None):
    login_session = open_session(account, request.remote_addr)
    login_user(login_session.admin)
    db.session.commit()
    return redirect(next_path or url_for(".dashboard"), code=303)


@bp.route("/login/code", methods=["GET", "POST"])
@limiter.limit(_login_rate_limit, methods=["POST"])
@limiter.limit(_login_rate_limit, methods=["POST"], key_func=_code_account_key)
def login_code():
    """Second step for accounts with an authenticator app: the current six-digit code."""
    pending = session.get(PENDING_SECOND_FACTOR)
    account = db.session.get(AdminUser, pending["account"]) if isinstance(pending, dict) else None
    if account is None or not account.is_active or time.time() - pending.get("at", 0) > SECOND_FACTOR_WINDOW:
        session.pop(PENDING_SECOND_FACTOR, None)
        flash("Please log in again.", "info")
        return redirect(url_for(".login"))
    form = CodeForm()
    error = None
    if form.validate_on_submit():
        if totp.use_code(account, form.code.data):
            next_path = pending.get("next")
            session.clear()
            return _logged_in(account, next_path)
        record_action(account, "login_failed", detail={"ip": request.remote_addr, "second_factor": True})
        db.session.commit()
        error = "That code is not right (or was used already). Type the code your app shows now."
    status = 401 if error else (400 if form.errors else 200)
    return render_template("admin/login_code.html", form=form, error=error), status


@bp.route("/two-factor", methods=["GET", "POST"])
def two_factor():
    """Set up (or turn off) the authenticator-app code for one's own account."""
    account = current_user
    form = CodeForm()
    if account.totp_secret is None:
        secret = session.get("admin_totp_pending")
        if not secret:
            secret = session["admin_totp_pending"] = totp.new_secret()
        if form.validate_on_submit():
            if totp.use_code(account, form.code.data, secret=secret):
                account.totp_secret = secret
                session.pop("admin_totp_pending", None)
                record_action(account, "two_factor_on")
                db.session.commit()
                flash("The second factor is on: from now on you type a code from your app after your password.",
                      "success")
                return redirect(url_for(".two_factor"), code=303)
            form.code.errors = ["That code does not match. Type the code your app shows now."]
        return render_template("admin/two_factor.html", form=form, secret=secret,
                               qr=totp.enrolment_qr(account, secret), events=_events(), event=None), \
            400 if form.errors else 200
    if form.validate_on_submit() and not current_app.config["ADMIN_REQUIRE_2FA"]:
        if totp.use_code(account, form.code.data):
            account.totp_secret = None
            record_action(account, "two_factor_off")
            db.session.commit()
            flash("The second factor is off for your account.", "success")
            return redirect(url_for(".two_factor"), code=303)
        form.code.errors = ["That code is not right. Type the code your app shows now."]
    return render_template("admin/two_factor.html", form=form, secret=None, qr=None, events=_events(),
                           event=None), 400 if form.errors else 200


@bp.post("/logout")
def logout():
    form = ButtonForm()
    if form.validate_on_submit() and current_user.current_session is not None:
        end_session(current_user.current_session)
        record_action(current_user, "logout")
        db.session.commit()
    logout_user()
    session.clear()
    flash("You are logged out.", "info")
    return redirect(url_for(".login"), code=303)


# --- The event being looked at -------------------------------------------------------------


def _event() -> Event | None:
    """The event chosen in the header (?event=slug), else the featured one, else the newest."""
    slug = request.values.get("event", "")
    if slug:
        try:
            return registrations.get_event(slug)
        except RegistrationError:
            abort(404)
    return registrations.featured_event() or db.session.scalar(select(Event).order_by(Event.id.desc()).limit(1))


def _events() -> list[Event]:
    return list(db.session.scalars(select(Event).order_by(Event.registration_opens_at.desc())))


# --- Dashboard -------------------------------------------------------------------------------


@bp.get("/")
def dashboard():
    event = _event()
    figures = dashboard_figures.registration_figures(event) if event else None
    return render_template(
        "admin/dashboard.html",
        event=event,
        events=_events(),
        figures=figures,
        chart=dashboard_figures.bar_chart_svg(figures.per_day) if figures else None,
        seats=registrations.seats_for_display(event) if event else None,
        subscribers=dashboard_figures.subscriber_figures(),
        consent=dashboard_figures.consent_figures(),
        outbox=dashboard_figures.outbox_figures(),
        recent_days=dashboard_figures.RECENT_DAYS,
        warnings=dashboard_warnings(current_report()),
    )


# --- Attendees -------------------------------------------------------------------------------


def _page_number() -> int:
    try:
        return max(int(request.args.get("page", 1)), 1)
    except ValueError:
        return 1


@bp.get("/attendees")
def attendee_list():
    event = _event()
    if event is None:
        return render_template("admin/no_event.html"), 404
    filters = AttendeeFilterForm(request.args).fill_choices(event)
    filters.validate()
    chosen = filters.chosen(event)
    page = attendee_lists.attendee_page(event, chosen, _page_number())
    columns = exports.attendee_columns(event)
    export_form = AttendeeExportForm(formdata=None).fill_choices(columns)
    export_form.columns.data = list(columns)
    presets = _attendee_presets(columns)
    return render_template(
        "admin/attendees.html", event=event, events=_events(), filters=filters, chosen=chosen, page=page,
        export_form=export_form, preset_form=PresetForm(formdata=None).fill_choices(columns), presets=presets,
        query_args={key: value for key, value in request.args.items() if key not in ("page", "preset")},
    )


def _attendee_presets(columns: dict) -> dict[str, list[str]]:
    """Built-in and saved presets, each limited to the columns this event has."""
    saved = db.session.scalars(
        select(ExportPreset).where(ExportPreset.kind == ATTENDEE_PRESET_KIND).order_by(ExportPreset.name)
    )
    presets = {**exports.BUILT_IN_PRESETS, **{preset.name: preset.columns for preset in saved}}
    return {name: [key for key in keys if key in columns] for name, keys in presets.items()}


def _registration(registration_id: int) -> Registration:
    registration = db.session.get(Registration, registration_id)
    if registration is None:
        abort(404)
    return registration


@bp.get("/attendees/<int:registration_id>")
def attendee_detail(registration_id: int):
    registration = _registration(registration_id)
    return render_template(
        "admin/attendee.html",
        registration=registration,
        event=registration.event,
        position=registrations.waitlist_position(registration),
        check_ins=checkin.check_ins_of(registration.id),
        mail_state=deliverability.address_state(registration.email),
        button=ButtonForm(formdata=None),
    )


@bp.route("/attendees/<int:registration_id>/edit", methods=["GET", "POST"])
@admin_only
def edit_attendee(registration_id: int):
    registration = _registration(registration_id)
    form = OrganiserEditForm(obj=registration if request.method == "GET" else None).fill_choices(registration.event)
    if request.method == "GET":
        form.category.data = registration.category.code
    if form.validate_on_submit():
        fields = {name: form[name].data for name in registrations.EDITABLE_FIELDS}
        try:
            changed = registrations.correct_details(registration.id, fields, form.category.data)
        except EmailTaken:
            db.session.rollback()
            form.email.errors = ["Another registration for this event already uses this address."]
        else:
            record_action(current_user, "edit", f"registration {registration.code}", {"fields": changed})
            db.session.commit()
            flash("Saved." if changed else "Nothing was changed.", "success")
            return redirect(url_for(".attendee_detail", registration_id=registration.id), code=303)
    return render_template("admin/attendee_edit.html", form=form, registration=registration,
                           event=registration.event), 400 if form.errors else 200


@bp.get("/attendees/<int:registration_id>/certificate.pdf")
def attendee_certificate(registration_id: int):
    registration = _registration(registration_id)
    try:
        pdf = certificate_pdf(registration)
    except NoAttendance:
        abort(404)
    return certificate_response(registration, pdf)


@bp.post("/attendees/<int:registration_id>/cancel")
@admin_only
def cancel_attendee(registration_id: int):
    registration = _registration(registration_id)
    if not ButtonForm().validate_on_submit():
        abort(400)
    try:
        promoted = registrations.cancel_registration(registration.id, by_organiser=True)
    except LockTimeout:
        db.session.rollback()
        flash("The event is busy right now; nothing was changed. Please try again.", "error")
        return redirect(url_for(".attendee_detail", registration_id=registration_id), code=303)
    record_action(current_user, "cancel", f"registration {registration.code}",
                  {"promoted": [r.code for r in promoted]})
    db.session.commit()
    message = f"{registration.full_name}'s registration is cancelled and they have been emailed."
    if promoted:
        message += f" {promoted_sentence(len(promoted))}"
    flash(message, "success")
    return redirect(url_for(".attendee_detail", registration_id=registration_id), code=303)


@bp.post("/attendees/<int:registration_id>/resend")
@admin_only
def resend_email(registration_id: int):
    registration = _registration(registration_id)
    if not ButtonForm().validate_on_submit():
        abort(400)
    try:
        email_name = registrations.resend_status_email(registration.id)
    except RegistrationError:
        db.session.rollback()
        flash("A cancelled registration gets no further emails.", "error")
        return redirect(url_for(".attendee_detail", registration_id=registration_id), code=303)
    record_action(current_user, "resend", f"registration {registration.code}", {"email": email_name})
    db.session.commit()
    flash(f"The email is on its way to {registration.email}.", "success")
    return redirect(url_for(".attendee_detail", registration_id=registration_id), code=303)


# --- Event settings: capacity and the waiting list (admins) ------------------------------


@bp.route("/event", methods=["GET", "POST"])
@admin_only
def event_settings():
    event = _event()
    if event is None:
        return render_template("admin/no_event.html"), 404
    capacity_form = CapacityForm(prefix="overall", data={"capacity": event.capacity})
    file_form = EventFileForm(formdata=None, data={"event_file": event_as_toml(event)})
    day_forms = {day.position: DayCapacityForm(prefix=f"day{day.position}", data={"position": day.position,
                                                                               "capacity": day.capacity})
                 for day in event.days}
    status = 200
    if request.method == "POST":
        submitted = request.form.get("which", "")
        try:
            if submitted == "overall":
                capacity_form = CapacityForm(prefix="overall")
                if capacity_form.validate_on_submit():
                    promoted = registrations.set_event_capacity(event.id, capacity_form.capacity.data)
                    return _capacity_changed(event, {"capacity": capacity_form.capacity.data}, promoted)
            elif submitted.startswith("day") and submitted[3:].isdigit() and int(submitted[3:]) in day_forms:
                position = int(submitted[3:])
                form = DayCapacityForm(prefix=f"day{position}")
                day_forms[position] = form
                if form.validate_on_submit():
                    promoted = registrations.set_day_capacity(event.id, position, form.capacity.data)
                    return _capacity_changed(event, {"day": position, "capacity": form.capacity.data}, promoted)
            elif submitted == "file":
                file_form = EventFileForm()
                if file_form.validate_on_submit():
                    promoted = _apply_event_file(event, file_form)
                    if promoted is not None:
                        return _capacity_changed(event, {"event_file": True}, promoted)
            elif submitted == "promote" and ButtonForm().validate_on_submit():
                promoted = registrations.promote_from_waitlist(event.id)
                return _capacity_changed(event, {"promote": True}, promoted)
            else:
                abort(400)
        except LockTimeout:
            db.session.rollback()
            flash("The event is busy right now; nothing was changed. Please try again.", "error")
            return redirect(url_for(".event_settings", event=event.slug), code=303)
        status = 400
    return render_template(
        "admin/event.html", event=event, events=_events(), capacity_form=capacity_form, day_forms=day_forms,
        file_form=file_form,
        seats=registrations.seats_for_display(event), waiting=registrations.waitlist_length(event.id),
        button=ButtonForm(formdata=None),
    ), status


def _apply_event_file(event: Event, form: EventFileForm) -> list[Registration] | None:
    """update-event from the page; None (with the problems on the form) when the file is refused."""
    try:
        spec = parse_event_text(form.event_file.data)
        if spec.slug != event.slug:
            raise EventFileError([f"slug: stays {event.slug!r} (it is part of every registration link)"])
        return event_setup.update_event(spec)
    except EventFileError as exc:
        db.session.rollback()
        form.event_file.errors = list(exc.problems)
    except EventChangeRefused as exc:
        db.session.rollback()
        form.event_file.errors = [str(exc)]
    return None


def _capacity_changed(event: Event, detail: dict, promoted: list[Registration]):
    record_action(current_user, "capacity", event.slug, {**detail, "promoted": [r.code for r in promoted]})
    db.session.commit()
    flash(f"Saved. {promoted_sentence(len(promoted))}" if promoted else "Saved.", "success")
    return redirect(url_for(".event_settings", event=event.slug), code=303)


# --- Check-in ----------------------------------------------------------------------------------


@bp.route("/check-in", methods=["GET", "POST"])
def check_in():
    event = _event()
    if event is None:
        return render_template("admin/no_event.html"), 404
    default_day = checkin.day_for_check_in(event)
    form = CheckInForm().fill_choices(event, default_day)
    result = refusal = None
    status = 200
    if request.method == "POST":
        if form.validate_on_submit():
            day = next(d for d in event.days if str(d.id) == form.day.data)
            try:
                result = checkin.check_in(event, form.code.data, day, current_user.id)
            except checkin.CheckInRefused as exc:
                refusal = str(exc)
                status = 422
            else:
                if not result.already:
                    record_action(current_user, "check_in", f"registration {result.registration.code}",
                                  {"day": day.position})
                db.session.commit()
                form = CheckInForm(formdata=None).fill_choices(event, day)
                form.day.data = str(day.id)
        else:
            status = 400
    search = (request.args.get("q") or "").strip()[:200]
    matches = []
    if search:
        matches = attendee_lists.attendee_page(
            event, attendee_lists.AttendeeFilter(search=search, status="confirmed", sort="last_name")
        ).rows
    return render_template(
        "admin/check_in.html", event=event, events=_events(), form=form, result=result, refusal=refusal,
        headcounts=checkin.headcounts(event), search=search, matches=matches,
        local_time=lambda moment: clock(event.local_time(moment)),
    ), status


def format_moment(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else ""


bp.add_app_template_filter(format_moment, "utc_moment")
