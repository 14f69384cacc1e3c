"""Admins erase one person by address, across registrations, subscription, mail and bounces, after a preview."""
import hashlib
import subprocess

import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url

from portal.admin.models import AuditEvent
from portal.deliverability.models import DeliveryEvent, MailSuppression
from portal.extensions import db
from portal.newsletter.models import Subscriber
from tests.support.admin import csrf_of
from tests.support.dump import tables_holding
from tests.support.registration import add_registration, new_event, registrations
from tests.support.web import page_text

ADDRESS = "ada@example.org"


def _held_everywhere(app):
    slug = new_event(app)
    add_registration(app, slug, email=ADDRESS)
    with app.app_context():
        subscriber = Subscriber(email=ADDRESS, email_key=ADDRESS, first_name="Ada", status="confirmed")
        db.session.add(subscriber)
        report = DeliveryEvent(kind="hard_bounce", address_key=ADDRESS, source="dsn",
                               diagnostic=f"550 5.1.1 <{ADDRESS}>: no such user")
        db.session.add(report)
        db.session.flush()
        db.session.add(MailSuppression(address_key=ADDRESS, reason="hard_bounce", event_id=report.id))
        db.session.commit()
    return slug


def _post(client, **data):
    return client.post("/admin/erase", data={"csrf_token": csrf_of(client, "/admin/erase"), **data})


def test_the_preview_lists_what_is_held_and_erases_nothing(app, admin_client):
    slug = _held_everywhere(app)
    page = page_text(_post(admin_client, email=ADDRESS.upper()))
    assert "1 registration(s)" in page and "Newsletter subscription: confirmed" in page
    assert "1 bounce or complaint report(s); bulk mail skips the address" in page
    assert registrations(app, slug)[0].email == ADDRESS


def test_erasing_leaves_the_address_only_as_the_declared_hash_and_is_audited(app, admin_client):
    _held_everywhere(app)
    response = _post(admin_client, email=ADDRESS, confirm="yes")
    assert response.status_code == 303
    assert tables_holding(app, ADDRESS) == []
    assert tables_holding(app, "Lovelace") == []
    assert "suppressed_address" in tables_holding(app, hashlib.sha256(ADDRESS.encode()).hexdigest())
    with app.app_context():
        audit = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "erase_person")).one()
        assert audit.detail["registrations"] == 1 and audit.detail["subscriptions"] == 1
        assert ADDRESS not in repr((audit.target, audit.detail))


def test_an_address_with_nothing_held_says_so(app, admin_client):
    page = page_text(_post(admin_client, email="nobody@example.org"))
    assert "Nothing is held under this address." in page


def test_an_invalid_address_gets_a_message_not_an_error(app, admin_client):
    response = _post(admin_client, email="not an address")
    assert response.status_code == 200
    assert "Held under this address" not in page_text(response)


def test_staff_cannot_erase(app, staff_client):
    assert staff_client.get("/admin/erase").status_code in (302, 403)


def test_the_page_and_its_preview_pass_the_nu_html_checker(app, admin_client, tmp_path):
    from tests.support.vnu import vnu_errors

    _held_everywhere(app)
    documents = {"form": admin_client.get("/admin/erase").get_data(as_text=True),
                 "preview": _post(admin_client, email=ADDRESS).get_data(as_text=True)}
    assert vnu_errors(documents, tmp_path) == {"form": [], "preview": []}


@pytest.mark.services
def test_a_pg_dump_after_erasure_holds_the_address_only_as_its_hash(app, admin_client, portal_env):
    _held_everywhere(app)
    assert _post(admin_client, email=ADDRESS, confirm="yes").status_code == 303
    url = make_url(portal_env["DATABASE_URL"])
    dump = subprocess.run(
        ["pg_dump", "--data-only", "-h", url.host, "-p", str(url.port or 5432), "-U", url.username, url.database],
        capture_output=True, text=True, timeout=120, check=True,
    ).stdout
    assert ADDRESS not in dump and "Lovelace" not in dump
    assert hashlib.sha256(ADDRESS.encode()).hexdigest() in dump


@pytest.mark.parametrize("value", ["a@b\x00.org", "x" * 400 + "@example.org", "ada@example.org\r\nBcc: x@y.org"])
def test_a_hostile_address_gets_the_form_again_not_an_error(app, admin_client, value):
    response = _post(admin_client, email=value, confirm="yes")
    assert response.status_code == 200
    assert "Held under this address" not in page_text(response)


def test_admins_reach_the_erase_page_from_the_menu_and_staff_do_not(admin_client, staff_client):
    assert 'href="/admin/erase"' in admin_client.get("/admin/").get_data(as_text=True)
    assert 'href="/admin/erase"' not in staff_client.get("/admin/").get_data(as_text=True)
    assert staff_client.get("/admin/erase").status_code == 403
