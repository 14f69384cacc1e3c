"""How fees are paid: declared in the event file, shown on the form, the confirmation email and the manage page."""
import json
import re
import tomllib
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import update

from portal.extensions import db
from portal.registration import service
from portal.registration.event_file import EventFileError, event_as_toml, parse_event
from portal.registration.models import Event, Registration
from portal.retention.service import anonymise_registrations
from tests.support.mail import outbox
from tests.support.registration import VALID_FORM, add_registration, manage_path, new_event
from tests.support.web import csrf_token_from, page_text

PAYMENT_PAGE = "https://pay.example.org/summit"
EXAMPLE = Path(__file__).resolve().parents[2] / "deploy" / "summit.example.toml"


@pytest.fixture
def reg_app(make_app):
    return make_app(RATELIMIT_ENABLED=False)


def _event_data(**payment) -> dict:
    data = tomllib.loads(EXAMPLE.read_text())
    data.pop("payment", None)
    if payment:
        data["payment"] = payment
    return data


def _declare(app, slug, method="online", url=PAYMENT_PAGE, instructions="Pay within 30 days."):
    with app.app_context():
        db.session.execute(update(Event).where(Event.slug == slug).values(
            payment_method=method, payment_url=url, payment_instructions=instructions))
        db.session.commit()


def test_the_payment_table_is_read_from_the_event_file():
    spec = parse_event(_event_data(method="online", url=PAYMENT_PAGE, instructions="Pay within 30 days."))
    assert (spec.payment_method, spec.payment_url, spec.payment_instructions) == (
        "online", PAYMENT_PAGE, "Pay within 30 days.")


def test_an_event_file_without_a_payment_table_declares_nothing():
    spec = parse_event(_event_data())
    assert (spec.payment_method, spec.payment_url, spec.payment_instructions) == (None, None, "")


@pytest.mark.parametrize("payment, problem", [
    ({"method": "cheque"}, "payment.method: 'cheque' is not one of invoice, at_door, online"),
    ({"method": "online"}, "payment.url: missing"),
    ({"method": "online", "url": "http://pay.example.org/"}, "is not an https:// address"),
    ({"method": "invoice", "url": PAYMENT_PAGE}, "payment.url: only for method \"online\""),
    ({"instructions": "Pay soon."}, "payment.method: missing"),
])
def test_a_bad_payment_table_is_reported_with_its_field(payment, problem):
    with pytest.raises(EventFileError) as raised:
        parse_event(_event_data(**payment))
    assert any(problem in line for line in raised.value.problems), raised.value.problems


def test_the_payment_table_survives_the_round_trip_through_the_admin_event_file(app, make_event):
    slug = make_event()
    _declare(app, slug)
    with app.app_context():
        spec = parse_event(tomllib.loads(event_as_toml(service.get_event(slug))))
    assert (spec.payment_method, spec.payment_url, spec.payment_instructions) == (
        "online", PAYMENT_PAGE, "Pay within 30 days.")


def test_the_form_says_how_fees_are_paid(reg_app):
    slug = new_event(reg_app)
    _declare(reg_app, slug, method="invoice", url=None, instructions="Purchase orders are accepted.")
    text = page_text(reg_app.test_client().get(f"/events/{slug}/register"))
    assert "Paying the fee An invoice follows by email after you register. Purchase orders are accepted." in text


def test_the_form_says_nothing_about_paying_when_the_event_declares_nothing(reg_app):
    slug = new_event(reg_app)
    assert "Paying the fee" not in reg_app.test_client().get(f"/events/{slug}/register").get_data(as_text=True)


def test_the_confirmation_email_gives_the_fee_and_the_payment_page(reg_app):
    slug = new_event(reg_app)
    _declare(reg_app, slug)
    add_registration(reg_app, slug, category="member")
    [email] = outbox(reg_app, "registration_confirmed")
    assert ("PAYMENT\nYour fee: $395.00. Unpaid.\nPay online on the payment page after you register.\n"
            f"Payment page: {PAYMENT_PAGE}\nPay within 30 days.\n") in email.text
    assert re.search(f'<a href="{re.escape(PAYMENT_PAGE)}"[^>]*>Go to the payment page</a>', email.html)


def test_the_manage_page_shows_what_is_owed_and_how_to_pay_it(reg_app):
    slug = new_event(reg_app)
    _declare(reg_app, slug)
    add_registration(reg_app, slug, category="member")
    [email] = outbox(reg_app, "registration_confirmed")
    client = reg_app.test_client()
    text = page_text(client.get(manage_path(email.text)))
    assert "Payment Your fee: $395.00 (Society member). Unpaid. Pay online on the payment page" in text

    with reg_app.app_context():
        db.session.execute(update(Registration).values(payment_status="paid", paid_on=date(2030, 8, 1)))
        db.session.commit()
    text = page_text(client.get(manage_path(email.text)))
    assert "Your fee: $395.00 (Society member). Paid on Thursday, August 1, 2030." in text
    assert "payment page" not in text


def test_a_category_without_a_fee_gets_no_payment_section(reg_app):
    slug = new_event(reg_app)
    _declare(reg_app, slug)
    add_registration(reg_app, slug, category="press")
    [email] = outbox(reg_app, "registration_confirmed")
    assert "PAYMENT" not in email.text
    assert "Your fee" not in reg_app.test_client().get(manage_path(email.text)).get_data(as_text=True)


def test_the_attendee_data_download_holds_the_payment_state(reg_app):
    slug = new_event(reg_app)
    add_registration(reg_app, slug, category="member")
    with reg_app.app_context():
        db.session.execute(update(Registration).values(payment_status="paid", paid_on=date(2030, 8, 1),
                                                       payment_note="Receipt 7"))
        db.session.commit()
    [email] = outbox(reg_app, "registration_confirmed")
    client, path = reg_app.test_client(), manage_path(email.text)
    token = csrf_token_from(client.get(path).get_data(as_text=True))
    data = json.loads(client.post(path + "/export", data={"csrf_token": token}).get_data(as_text=True))
    assert {key: data["registration"][key] for key in ("payment_status", "paid_on", "payment_note")} == {
        "payment_status": "paid", "paid_on": "2030-08-01", "payment_note": "Receipt 7"}


def test_anonymising_a_registration_empties_its_payment_note(reg_app):
    slug = new_event(reg_app)
    registration = add_registration(reg_app, slug, category="member")
    with reg_app.app_context():
        db.session.execute(update(Registration).values(payment_status="paid", paid_on=date(2030, 8, 1),
                                                       payment_note="Paid by Ada's employer"))
        anonymise_registrations([registration.id], "test")
        db.session.commit()
        row = db.session.get(Registration, registration.id)
        assert (row.payment_status, row.paid_on, row.payment_note) == ("paid", date(2030, 8, 1), "")


def _check_answers_page(app, slug, category):
    client = app.test_client()
    form = client.get(f"/events/{slug}/register").get_data(as_text=True)
    data = {**VALID_FORM, "category": category, "csrf_token": csrf_token_from(form)}
    data.pop("confirm", None)  # stop at the check-answers page
    return client.post(f"/events/{slug}/register", data=data)


def test_the_check_answers_page_says_how_the_chosen_fee_is_paid(reg_app):
    slug = new_event(reg_app)
    _declare(reg_app, slug, method="at_door", url=None, instructions="")
    assert "Paying the fee Pay at the registration desk when you arrive." in page_text(
        _check_answers_page(reg_app, slug, "member"))
    assert "Paying the fee" not in page_text(_check_answers_page(reg_app, slug, "press"))
