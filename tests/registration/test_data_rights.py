"""An attendee's data rights from the manage link: download everything held, and erase it."""
import json
from datetime import date, timedelta

import pytest
from sqlalchemy import select, update

from portal.extensions import db
from portal.mail.models import EmailStatus, OutgoingEmail
from portal.registration.models import CheckIn, EventDay, Registration
from tests.support.dump import tables_holding
from tests.support.registration import new_event, registrations
from tests.support.web import csrf_token_from, page_text
from tests.registration.test_manage import registered

ADDRESS = "ada@example.org"


@pytest.fixture
def m_app(make_app):
    return make_app(RATELIMIT_ENABLED=False)


def _check_in(app, slug):
    with app.app_context():
        registration = db.session.get(Registration, registrations(app, slug)[0].id)
        db.session.add(CheckIn(registration_id=registration.id, event_day_id=registration.days[0].id))
        db.session.commit()


def _post(client, path, action):
    token = csrf_token_from(client.get(path if action == "/export" else path + action).get_data(as_text=True))
    return client.post(path + action, data={"csrf_token": token})


def test_the_download_holds_the_registration_its_check_ins_and_the_emails_sent(m_app):
    slug = new_event(m_app)
    client, path = registered(m_app, slug, dietary="Vegan")
    _check_in(m_app, slug)
    response = _post(client, path, "/export")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert "attachment" in response.headers["Content-Disposition"]
    assert response.headers["Cache-Control"].startswith("private") or "no-store" in response.headers["Cache-Control"]
    data = json.loads(response.get_data(as_text=True))
    assert data["registration"]["email"] == ADDRESS and data["registration"]["dietary"] == "Vegan"
    assert len(data["check_ins"]) == 1
    assert data["emails"] and all(email["to"] == ADDRESS for email in data["emails"])
    assert any(email["name"] == "registration_confirmed" for email in data["emails"])


def test_the_download_needs_the_form_token(m_app):
    slug = new_event(m_app)
    client, path = registered(m_app, slug)
    assert client.post(path + "/export").status_code in (303, 400)


def test_erasing_asks_first_and_changes_nothing_until_confirmed(m_app):
    slug = new_event(m_app)
    client, path = registered(m_app, slug)
    page = page_text(client.get(path + "/erase"))
    assert "Erase your registration data" in page and "cancels your registration" in page
    assert registrations(m_app, slug)[0].email == ADDRESS


def test_erasing_cancels_promotes_the_waiting_list_and_leaves_the_address_nowhere(m_app):
    slug = new_event(m_app, day_capacity=1)
    client, path = registered(m_app, slug)
    registered(m_app, slug, email="grace@example.org", first_name="Grace", last_name="Hopper")
    assert [r.status for r in registrations(m_app, slug)] == ["confirmed", "waitlisted"]
    response = _post(client, path, "/erase")
    assert response.status_code == 200
    assert "Your registration data is erased" in page_text(response)
    erased, promoted = registrations(m_app, slug)
    assert erased.status == "cancelled" and promoted.status == "confirmed"
    assert (erased.first_name, erased.last_name, erased.email, erased.organization, erased.job_title) == ("",) * 5
    with m_app.app_context():
        mail = db.session.scalars(select(OutgoingEmail).where(OutgoingEmail.cause_kind == "registration",
                                                             OutgoingEmail.cause_id == erased.id)).all()
        assert mail and all(row.status != EmailStatus.QUEUED.value and row.body_text == "" for row in mail)
        assert db.session.scalars(select(OutgoingEmail.name).where(OutgoingEmail.to_address == "grace@example.org")
                                  ).all()[-1] == "registration_promoted"
    assert tables_holding(m_app, ADDRESS) == []
    assert tables_holding(m_app, "Lovelace") == []
    assert client.get(path).status_code in (404, 410)


def test_erasing_after_the_event_keeps_the_registration_in_the_counts(m_app):
    slug = new_event(m_app)
    client, path = registered(m_app, slug)
    _check_in(m_app, slug)
    with m_app.app_context():
        event_id = registrations(m_app, slug)[0].event_id
        db.session.execute(update(EventDay).where(EventDay.event_id == event_id)
                           .values(date=date.today() - timedelta(days=10)))
        db.session.commit()
    assert _post(client, path, "/erase").status_code == 200
    erased = registrations(m_app, slug)[0]
    assert erased.status == "confirmed" and erased.email == ""
    assert tables_holding(m_app, ADDRESS) == []


def test_the_manage_and_erase_pages_pass_the_nu_html_checker(m_app, tmp_path):
    from tests.support.vnu import vnu_errors

    slug = new_event(m_app)
    client, path = registered(m_app, slug)
    documents = {"manage": client.get(path).get_data(as_text=True),
                 "erase": client.get(path + "/erase").get_data(as_text=True)}
    assert vnu_errors(documents, tmp_path) == {"manage": [], "erase": []}


@pytest.mark.parametrize("token", ["nonsense", "a.b.c", "%00", "x" * 2000])
def test_a_bad_link_to_the_data_pages_gets_a_clear_page_not_an_error(m_app, token):
    client = m_app.test_client()
    for response in (client.get(f"/manage/{token}/erase"), client.post(f"/manage/{token}/erase"),
                     client.post(f"/manage/{token}/export")):
        assert 400 <= response.status_code < 500
