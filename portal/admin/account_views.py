"""Admin pages that keep the portal running: the outbox, admin and staff accounts, the audit log.

The routes join the admin blueprint, so its login check covers them."""
from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from portal.admin import dashboard as dashboard_figures
from portal.admin import service as account_service
from portal.admin.audit import recent_actions, record_action
from portal.admin.auth import admin_only
from portal.admin.forms import InviteForm, RoleForm, SetPasswordForm
from portal.admin.models import AdminUser
from portal.admin.views import _events, bp
from portal.extensions import db
from portal.forms import ButtonForm
from portal.mail.outbox import queue_failed_again
from portal.mail.models import EmailStatus, OutgoingEmail
from portal.tokens import TokenError


# --- Outbox (admins) ------------------------------------------------------------------------------

OUTBOX_PAGE_ROWS = 100


@bp.get("/outbox")
@admin_only
def outbox():
    shown = {}
    for status in (EmailStatus.FAILED.value, EmailStatus.QUEUED.value, EmailStatus.SENDING.value):
        shown[status] = list(db.session.scalars(
            select(OutgoingEmail).where(OutgoingEmail.status == status)
            .order_by(OutgoingEmail.created_at, OutgoingEmail.id).limit(OUTBOX_PAGE_ROWS)
        ))
    return render_template("admin/outbox.html", shown=shown, figures=dashboard_figures.outbox_figures(),
                           lanes=dashboard_figures.lane_figures(), button=ButtonForm(formdata=None),
                           events=_events(), event=None, limit=OUTBOX_PAGE_ROWS)


@bp.post("/outbox/retry")
@admin_only
def retry_outbox():
    if not ButtonForm().validate_on_submit():
        abort(400)
    raw_id = request.form.get("email_id", "")
    ids = [int(raw_id)] if raw_id.isdigit() else None
    requeued = queue_failed_again(ids)
    record_action(current_user, "outbox_retry", f"{len(requeued)} email(s)", {"ids": requeued[:100]})
    db.session.commit()
    flash(f"{len(requeued)} failed email(s) queued again.", "success")
    return redirect(url_for(".outbox"), code=303)


# --- Accounts (admins) -----------------------------------------------------------------------------


@bp.route("/accounts", methods=["GET", "POST"])
@admin_only
def accounts():
    form = InviteForm()
    status = 200
    if request.method == "POST":
        if form.validate_on_submit():
            try:
                account = account_service.invite_account(form.email.data, form.role.data)
            except account_service.AdminAccountError as exc:
                db.session.rollback()
                form.email.errors = [str(exc)[:1].upper() + str(exc)[1:] + "."]
            else:
                record_action(current_user, "account_invite", account.email, {"role": account.role})
                db.session.commit()
                flash(f"{account.email} is invited: the email with their set-password link is on its way.", "success")
                return redirect(url_for(".accounts"), code=303)
        status = 400
    return render_template("admin/accounts.html", form=form, accounts=account_service.list_accounts(),
                           roles=[("staff", "Staff"), ("admin", "Admin")], button=ButtonForm(formdata=None),
                           events=_events(), event=None), status


@bp.post("/accounts/<int:account_id>")
@admin_only
def change_account(account_id: int):
    account = db.session.get(AdminUser, account_id)
    if account is None:
        abort(404)
    action = request.form.get("action", "")
    form = RoleForm() if action == "role" else ButtonForm()
    if not form.validate_on_submit() or action not in ("role", "disable", "enable"):
        abort(400)
    try:
        if action == "role":
            account_service.change_role(account, form.role.data)
        else:
            account_service.set_disabled(account, action == "disable")
    except account_service.AdminAccountError as exc:
        db.session.rollback()
        flash(str(exc), "error")
        return redirect(url_for(".accounts"), code=303)
    record_action(current_user, f"account_{action}", account.email, {"role": account.role})
    db.session.commit()
    flash(f"{account.email}: saved.", "success")
    return redirect(url_for(".accounts"), code=303)


@bp.route("/set-password/<token>", methods=["GET", "POST"])
def set_password(token: str):
    """From the invitation email: choose a password, then log in."""
    try:
        account = account_service.account_from_set_password_token(token)
    except TokenError:
        return render_template("admin/bad_link.html"), 410
    form = SetPasswordForm()
    if form.validate_on_submit():
        account_service.set_password(account, form.password.data)
        record_action(account, "password_set", account.email)
        db.session.commit()
        flash("Your password is set. Please log in.", "success")
        return redirect(url_for(".login"), code=303)
    return render_template("admin/set_password.html", form=form, account=account), 400 if form.errors else 200


# --- Audit log (admins) ---------------------------------------------------------------------------


@bp.get("/audit")
@admin_only
def audit_log():
    try:
        before = int(request.args.get("before", 0)) or None
    except ValueError:
        before = None
    action = (request.args.get("action") or "")[:32] or None
    actions = recent_actions(before, action)
    return render_template("admin/audit.html", actions=actions, action=action, events=_events(), event=None,
                           next_before=actions[-1].id if len(actions) == 100 else None)
