"""Admin page that erases one person by address, after a preview of what will go.

The routes join the admin blueprint, so its login check covers them."""
from flask import flash, redirect, render_template, url_for
from flask_login import current_user

from portal.admin.auth import admin_only
from portal.admin.views import _events, bp
from portal.extensions import db
from portal.retention import erasure
from portal.retention.forms import EraseAddressForm


@bp.route("/erase", methods=["GET", "POST"])
@admin_only
def erase_person():
    form = EraseAddressForm()
    found = None
    if form.validate_on_submit():
        found = erasure.holdings(form.email.data)
        if form.confirm.data == "yes" and found.anything:
            counts = erasure.erase_person(found, current_user)
            db.session.commit()
            flash(f"Erased: {counts['registrations']} registration(s), {counts['subscriptions']} subscription(s), "
                  f"{counts['emails']} email(s), {counts['delivery_reports']} delivery report(s). "
                  "The audit log records it without the address.", "success")
            return redirect(url_for(".erase_person"), code=303)
    return render_template("admin/erase.html", form=form, found=found, events=_events(), event=None)
