"""Admin exports: attendee lists (CSV or XLSX, with the list's own filters and saved column presets),
subscribers and the consent log. Every export is a POST, audited; the routes join the admin blueprint."""
import tempfile

from flask import Response, abort, flash, redirect, render_template, send_file, stream_with_context, url_for
from flask_login import current_user
from sqlalchemy import select

from portal.admin import attendees as attendee_lists
from portal.admin import exports
from portal.admin.audit import record_action
from portal.admin.auth import admin_only
from portal.admin.forms import AttendeeExportForm, ListExportForm, PresetForm
from portal.admin.models import ExportPreset
from portal.admin.views import ATTENDEE_PRESET_KIND, _event, _events, bp
from portal.database import utcnow
from portal.extensions import db


# --- Exports (admins) ----------------------------------------------------------------------------


def _export_name(kind: str, extension: str) -> str:
    """Chosen by the server: nothing a user typed ends up in a file name."""
    return f"{kind}-{utcnow():%Y%m%d-%H%M%S}.{extension}"


def _send_export(kind: str, headers: list[str], statement, file_format: str, bom: bool, detail: dict):
    """Write the audit row first (committed), then stream the file."""
    rows = exports.count_rows(statement)
    extension = "xlsx" if file_format == "xlsx" else "csv"
    filename = _export_name(kind, extension)
    record_action(current_user, "export", filename, {**detail, "kind": kind, "format": extension, "rows": rows})
    db.session.commit()
    disposition = {"Content-Disposition": f'attachment; filename="{filename}"'}
    if extension == "csv":
        chunks = exports.csv_chunks(headers, exports.stream_rows(statement), bom=bom)
        return Response(stream_with_context(chunks), mimetype="text/csv", headers={**disposition, "X-Content-Type-Options": "nosniff"})
    # The workbook goes to an anonymous temporary file (never memory), which is gone once sent.
    target = tempfile.TemporaryFile()
    exports.write_xlsx(headers, exports.stream_rows(statement), target, title=kind.capitalize())
    target.seek(0)
    return send_file(target, mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                     as_attachment=True, download_name=filename, max_age=0)


@bp.post("/exports/attendees")
@admin_only
def export_attendees():
    event = _event()
    if event is None:
        abort(404)
    columns = exports.attendee_columns(event)
    form = AttendeeExportForm().fill_choices(columns)
    if not form.validate_on_submit():
        flash("Choose at least one column to export.", "error")
        return redirect(url_for(".attendee_list", event=event.slug), code=303)
    chosen = form.filter_form(event).chosen(event)
    headers, statement = exports.attendee_export_query(
        event, attendee_lists.attendee_query(event, chosen), form.columns.data
    )
    return _send_export("attendees", headers, statement, form.file_format.data, form.bom.data,
                        {"event": event.slug, "filters": chosen.describe(), "columns": form.columns.data})


@bp.post("/exports/attendees/presets")
@admin_only
def save_preset():
    event = _event()
    if event is None:
        abort(404)
    columns = exports.attendee_columns(event)
    form = PresetForm().fill_choices(columns)
    if not form.validate_on_submit():
        flash(" ".join(f"{form[name].label.text}: {errors[0]}" for name, errors in form.errors.items()), "error")
        return redirect(url_for(".attendee_list", event=event.slug), code=303)
    preset = db.session.scalar(
        select(ExportPreset).where(ExportPreset.kind == ATTENDEE_PRESET_KIND, ExportPreset.name == form.name.data)
    )
    if preset is None:
        preset = ExportPreset(kind=ATTENDEE_PRESET_KIND, name=form.name.data, created_by=current_user.id)
        db.session.add(preset)
    preset.columns = form.columns.data
    record_action(current_user, "preset", form.name.data, {"columns": form.columns.data})
    db.session.commit()
    flash(f"Preset “{form.name.data}” saved.", "success")
    return redirect(url_for(".attendee_list", event=event.slug), code=303)


@bp.get("/exports")
@admin_only
def export_page():
    return render_template("admin/exports.html", events=_events(), event=_event(),
                           form=ListExportForm(formdata=None))


#: The whole-list exports: what each holds (see portal.admin.exports).
LIST_EXPORTS = {"subscribers": exports.subscriber_export_query, "consent-log": exports.consent_log_export_query}


@bp.post("/exports/<any(subscribers, 'consent-log'):kind>")
@admin_only
def export_list(kind: str):
    form = ListExportForm()
    if not form.validate_on_submit():
        abort(400)
    headers, statement = LIST_EXPORTS[kind]()
    return _send_export(kind, headers, statement, form.file_format.data, form.bom.data, {})
