"""Exports: formula-safe CSV and XLSX that read back to exactly what was stored, filters applied, audited."""
import csv
import io

from openpyxl import load_workbook
from sqlalchemy import select, update

from portal.admin.models import AuditEvent
from portal.extensions import db
from portal.registration.models import Registration
from tests.support.admin import csrf_of

# Each tricky value goes into organization (one line) and dietary (may hold line breaks).
TRICKY = ["=1+1", "+1", "-5", "@SUM(A1)", "\tTabbed", "Carriage\rreturn", "Line\nfeed", 'Say "hi"', "Commas, here",
          "Zoë Ñúñez 東京", "#N/A", "=HYPERLINK(\"https://evil.example\",\"x\")"]
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n")


def _tricky_event(app, make_event, make_registration) -> str:
    slug = make_event()
    for n, value in enumerate(TRICKY):
        make_registration(slug, email=f"person{n}@example.org", first_name=f"P{n}", last_name="Tricky")
    make_registration(slug, email="plain@example.org", first_name="Plain", last_name="Person", organization="Normal Org")
    with app.app_context():
        for n, value in enumerate(TRICKY):
            # Straight into the database: forms refuse some of these, an import or an old row might not.
            db.session.execute(update(Registration).where(Registration.email == f"person{n}@example.org")
                               .values(organization=value, dietary=value))
        db.session.commit()
    return slug


def _export(client, slug, file_format="csv", buffered=True, **fields):
    token = csrf_of(client, f"/admin/attendees?event={slug}")
    data = {"csrf_token": token, "file_format": file_format, "columns": ["last_name", "first_name", "organization", "dietary"],
            "sort": "oldest", **fields}
    # buffered: the streamed body is read and closed here, as a server would before its next request.
    return client.post(f"/admin/exports/attendees?event={slug}", data=data, buffered=buffered)


def _expected(value: str) -> str:
    return "'" + value if value.startswith(FORMULA_START) else value


def test_csv_prefixes_formula_cells_and_keeps_every_value_otherwise(app, admin_client, make_event, make_registration):
    slug = _tricky_event(app, make_event, make_registration)
    response = _export(admin_client, slug, q="Tricky")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"].startswith('attachment; filename="attendees-')
    rows = list(csv.reader(io.StringIO(response.get_data().decode("utf-8"), newline="")))
    assert rows[0] == ["Last name", "First name", "Organization", "Dietary needs"]
    assert len(rows) - 1 == len(TRICKY)
    for n, value in enumerate(TRICKY):
        assert rows[n + 1][2] == _expected(value), value
        assert rows[n + 1][3] == _expected(value), value


def test_xlsx_cells_are_plain_strings_equal_to_the_stored_values(app, admin_client, make_event, make_registration):
    slug = _tricky_event(app, make_event, make_registration)
    response = _export(admin_client, slug, file_format="xlsx", q="Tricky")
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.get_data())).active
    rows = list(sheet.iter_rows())
    assert len(rows) - 1 == len(TRICKY)
    for n, value in enumerate(TRICKY):
        for cell in (rows[n + 1][2], rows[n + 1][3]):
            assert cell.data_type == "s", (value, cell.data_type)
            assert cell.value == value


def test_the_export_holds_exactly_the_filtered_list(app, admin_client, make_event, make_registration):
    slug = make_event()
    for n in range(7):
        make_registration(slug, email=f"a{n}@example.org", days="1" if n % 2 else "all")
    listed = admin_client.get(f"/admin/attendees?event={slug}&day=" + _day_id(app, slug, 1) + "&status=confirmed")
    assert "7 registrations" in listed.get_data(as_text=True)
    only_both = _export(admin_client, slug, day=_day_id(app, slug, 2), status="confirmed")
    assert len(list(csv.reader(io.StringIO(only_both.get_data().decode(), newline="")))) - 1 == 4


def _day_id(app, slug, position) -> str:
    from portal.registration.service import get_event

    with app.app_context():
        return str(get_event(slug).day_at(position).id)


def test_every_export_writes_an_audit_row(app, admin_client, make_event, make_registration):
    slug = make_event()
    make_registration(slug)
    _export(admin_client, slug, q="ada", bom="y")
    token = csrf_of(admin_client, "/admin/exports")
    admin_client.post("/admin/exports/subscribers", data={"csrf_token": token, "file_format": "xlsx"}, buffered=True)
    with app.app_context():
        rows = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "export").order_by(AuditEvent.id)).all()
        assert [(r.detail["kind"], r.detail["format"], r.detail["rows"]) for r in rows] == [
            ("attendees", "csv", 1), ("subscribers", "xlsx", 0)]
        assert rows[0].detail["filters"] == {"search": "ada", "sort": "oldest"}
        assert rows[0].actor_email == "organiser@example.org"


def test_the_bom_is_there_only_when_asked_for(app, admin_client, make_event, make_registration):
    slug = make_event()
    make_registration(slug)
    assert _export(admin_client, slug, bom="y").get_data().startswith(b"\xef\xbb\xbf")
    assert not _export(admin_client, slug).get_data().startswith(b"\xef\xbb\xbf")


def test_the_csv_header_is_sent_before_any_row_is_read(app, admin_client, make_event, make_registration):
    slug = make_event()
    make_registration(slug, first_name="Ada", last_name="Lovelace")
    response = _export(admin_client, slug, buffered=False, columns=["last_name", "first_name"])
    chunks = iter(response.response)
    try:
        # A large list's download starts before its query has sorted every row.
        assert next(chunks) == b"Last name,First name\r\n"
        assert b"".join(chunks) == b"Lovelace,Ada\r\n"
    finally:
        response.close()


def test_exports_need_a_csrf_token(app, admin_client, make_event):
    slug = make_event()
    response = admin_client.post(f"/admin/exports/attendees?event={slug}", data={"file_format": "csv", "columns": ["email"]},
                                 buffered=True)
    assert response.status_code == 400


def test_unknown_columns_are_refused_without_a_file(app, admin_client, make_event):
    slug = make_event()
    response = _export(admin_client, slug, columns=["email", "password_hash"])
    assert response.status_code == 303
    assert "text/csv" not in response.content_type


def test_a_saved_preset_ticks_its_columns(app, admin_client, make_event):
    slug = make_event()
    token = csrf_of(admin_client, f"/admin/attendees?event={slug}")
    saved = admin_client.post(f"/admin/exports/attendees/presets?event={slug}",
                              data={"csrf_token": token, "name": "Registration desk", "columns": ["last_name", "code"]})
    assert saved.status_code == 303
    page = admin_client.get(f"/admin/attendees?event={slug}&preset=Registration+desk").get_data(as_text=True)
    export_form = page[page.index('id="export-title"'):page.index("Save these columns")]
    assert 'value="last_name" checked' in export_form and 'value="code" checked' in export_form
    assert 'value="email" checked' not in export_form


def test_subscriber_and_consent_exports_download(app, admin_client):
    token = csrf_of(admin_client, "/admin/exports")
    for path in ("/admin/exports/subscribers", "/admin/exports/consent-log"):
        response = admin_client.post(path, data={"csrf_token": token, "file_format": "csv"}, buffered=True)
        assert response.status_code == 200 and response.content_type.startswith("text/csv"), path
        assert response.headers["Content-Disposition"].startswith("attachment;")


def test_every_export_form_says_csv_shows_an_apostrophe_and_xlsx_keeps_values_exact(app, admin_client, make_event):
    slug = make_event()
    attendees = admin_client.get(f"/admin/attendees?event={slug}").get_data(as_text=True)
    exports = admin_client.get("/admin/exports").get_data(as_text=True)
    # The attendee export, then the subscriber and consent log exports: each form's choice of format.
    choices = [part.split("</fieldset>")[0] for page in (attendees, exports)
               for part in page.split("<legend>Format</legend>")[1:]]
    assert len(choices) == 3
    for choice in choices:
        assert "Excel (XLSX) keeps every value exactly as stored" in choice
        assert "CSV puts an apostrophe in front of a cell that starts with =, +, -, @" in choice
        assert "spreadsheets show that apostrophe" in choice
