"""Admin page recording a registration's payment: paid, unpaid or waived, with date and note.

The routes join the admin blueprint, so its login check covers them."""
from datetime import date

from flask import flash, redirect, render_template, url_for
from flask_login import current_user

from portal.admin.audit import record_action
from portal.admin.auth import admin_only
from portal.admin.forms import PaymentForm
from portal.admin.views import _registration, bp
from portal.extensions import db
from portal.registration.payments import PaymentNotRecorded, record_payment


@bp.route("/attendees/<int:registration_id>/payment", methods=["GET", "POST"])
@admin_only
def attendee_payment(registration_id: int):
    registration = _registration(registration_id)
    form = PaymentForm()
    if not form.is_submitted():
        form.status.data = registration.payment_status
        form.paid_on.data = registration.paid_on or date.today()
        form.note.data = registration.payment_note
    if form.validate_on_submit():
        try:
            change = record_payment(registration.id, form.status.data, form.paid_on.data, form.note.data)
        except PaymentNotRecorded as exc:
            db.session.rollback()
            form.status.errors = [str(exc).capitalize() + "."]
        else:
            record_action(current_user, "payment", f"registration {registration.code}", change.describe())
            db.session.commit()
            flash(f"Payment recorded: {registration.payment_label}.", "success")
            return redirect(url_for(".attendee_detail", registration_id=registration.id), code=303)
    return render_template("admin/attendee_payment.html", form=form, registration=registration,
                           event=registration.event), 400 if form.errors else 200
