"""Organisers record payment per registration (paid / unpaid / waived, date, note), audited."""
import csv
import io
from datetime import date

from sqlalchemy import select

from portal.admin.models import AuditEvent
from portal.extensions import db
from portal.registration.models import Registration
from tests.support.admin import csrf_of
from tests.support.web import page_text


def _payment_path(registration) -> str:
    return f"/admin/attendees/{registration.id}/payment"


def _record(client, registration, **fields):
    path = _payment_path(registration)
    data = {"csrf_token": csrf_of(client, path), "status": "paid", "paid_on": "2030-08-01", "note": "", **fields}
    return client.post(path, data=data)


def _stored(app, registration_id) -> tuple:
    with app.app_context():
        row = db.session.get(Registration, registration_id)
        return row.payment_status, row.paid_on, row.payment_note


def test_an_organiser_records_a_payment_with_date_and_note(app, admin_client, make_event, make_registration):
    registration = make_registration(make_event(), category="member")
    response = _record(admin_client, registration, note="Invoice 2030-117")
    assert response.status_code == 303
    assert _stored(app, registration.id) == ("paid", date(2030, 8, 1), "Invoice 2030-117")
    detail = page_text(admin_client.get(response.headers["Location"]))
    assert "Payment recorded: Paid on Thursday, August 1, 2030." in detail
    assert "Payment Paid on Thursday, August 1, 2030 (Invoice 2030-117)" in detail


def test_recording_a_payment_writes_an_audit_row_without_the_note(app, admin_client, make_event, make_registration):
    registration = make_registration(make_event(), category="member")
    _record(admin_client, registration, status="waived", note="Speaker")
    with app.app_context():
        [row] = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "payment")).all()
        assert row.target == f"registration {registration.code}"
        assert row.detail == {"from": "unpaid", "to": "waived", "date": "2030-08-01", "note_changed": True}
        assert row.actor_email == "organiser@example.org"


def test_unpaid_clears_the_date(app, admin_client, make_event, make_registration):
    registration = make_registration(make_event(), category="member")
    _record(admin_client, registration)
    assert _record(admin_client, registration, status="unpaid").status_code == 303
    assert _stored(app, registration.id) == ("unpaid", None, "")


def test_paid_without_a_date_is_refused_with_a_message(app, admin_client, make_event, make_registration):
    registration = make_registration(make_event(), category="member")
    response = _record(admin_client, registration, paid_on="")
    assert response.status_code == 400
    assert "Enter the date it was paid or waived, like 2027-09-01." in page_text(response)
    assert _stored(app, registration.id) == ("unpaid", None, "")


def test_nonsense_in_the_payment_form_gets_a_message_not_an_error(app, admin_client, make_event, make_registration):
    registration = make_registration(make_event(), category="member")
    for fields in ({"status": "refunded"}, {"paid_on": "yesterday"}, {"note": "x" * 501}):
        response = _record(admin_client, registration, **fields)
        assert response.status_code == 400, fields
        assert "Please correct this to continue" in page_text(response)
    assert _stored(app, registration.id) == ("unpaid", None, "")


def test_staff_cannot_record_payments(app, staff_client, make_event, make_registration):
    registration = make_registration(make_event(), category="member")
    assert staff_client.get(_payment_path(registration)).status_code == 403
    assert "Record payment" not in staff_client.get(f"/admin/attendees/{registration.id}").get_data(as_text=True)


def test_a_category_without_a_fee_reads_no_fee(app, admin_client, make_event, make_registration):
    registration = make_registration(make_event(), category="press")
    assert "Payment No fee" in page_text(admin_client.get(f"/admin/attendees/{registration.id}"))


def test_an_unknown_registration_is_not_found(admin_client):
    assert admin_client.get("/admin/attendees/999999/payment").status_code == 404


def _three_payment_states(app, admin_client, make_event, make_registration) -> str:
    slug = make_event()
    paid = make_registration(slug, email="paid@example.org", last_name="Paid", category="member")
    make_registration(slug, email="owing@example.org", last_name="Owing", category="member")
    make_registration(slug, email="free@example.org", last_name="Free", category="press")
    _record(admin_client, paid, note="Receipt 7")
    return slug


def test_the_attendee_list_filters_by_payment(app, admin_client, make_event, make_registration):
    slug = _three_payment_states(app, admin_client, make_event, make_registration)
    listed = {payment: page_text(admin_client.get(f"/admin/attendees?event={slug}&payment={payment}"))
              for payment in ("paid", "unpaid", "no_fee", "waived", "nonsense")}
    assert "1 registration" in listed["paid"] and "Paid" in listed["paid"] and "Owing" not in listed["paid"]
    assert "1 registration" in listed["unpaid"] and "Owing" in listed["unpaid"] and "Free" not in listed["unpaid"]
    assert "1 registration" in listed["no_fee"] and "Free" in listed["no_fee"]
    assert "0 registrations" in listed["waived"]
    assert "3 registrations" in listed["nonsense"]


def test_the_export_carries_payment_columns_and_the_payment_filter(app, admin_client, make_event, make_registration):
    slug = _three_payment_states(app, admin_client, make_event, make_registration)
    token = csrf_of(admin_client, f"/admin/attendees?event={slug}")
    columns = ["last_name", "payment", "paid_on", "payment_note"]
    everyone = admin_client.post(f"/admin/exports/attendees?event={slug}", buffered=True, data={
        "csrf_token": token, "file_format": "csv", "columns": columns, "sort": "last_name"})
    assert list(csv.reader(io.StringIO(everyone.get_data().decode(), newline=""))) == [
        ["Last name", "Payment", "Paid or waived on", "Payment note"],
        ["Free", "no fee", "", ""], ["Owing", "unpaid", "", ""], ["Paid", "paid", "2030-08-01", "Receipt 7"]]
    owing = admin_client.post(f"/admin/exports/attendees?event={slug}", buffered=True, data={
        "csrf_token": token, "file_format": "csv", "columns": columns, "payment": "unpaid"})
    assert [row[0] for row in csv.reader(io.StringIO(owing.get_data().decode(), newline=""))] == ["Last name", "Owing"]
