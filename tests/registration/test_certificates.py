"""Certificates of attendance: only for people checked in, from the manage link and for admins."""
from portal.extensions import db
from portal.registration import checkin
from portal.registration.service import get_event
from tests.support.admin import add_account, log_in
from portal.registration.tokens import make_manage_token


def _check_in(app, slug, registration, position=1):
    with app.app_context():
        event = get_event(slug)
        checkin.check_in(event, registration.code, event.day_at(position), None)
        db.session.commit()


def test_an_attendee_who_came_downloads_a_certificate_naming_the_days(app, client, make_event, make_registration):
    slug = make_event()
    zoe = make_registration(slug, first_name="Zoë", last_name="Ñúñez 東京", email="zoe@example.org")
    with app.app_context():
        manage = f"/manage/{make_manage_token(zoe.code, zoe.token_version)}"
    assert client.get(manage + "/certificate.pdf").status_code == 404
    _check_in(app, slug, zoe)
    response = client.get(manage + "/certificate.pdf")
    assert response.status_code == 200
    assert response.content_type == "application/pdf"
    assert response.get_data().startswith(b"%PDF-")
    assert response.headers["Cache-Control"] == "no-store"
    assert "attachment" in response.headers["Content-Disposition"]


def test_admins_download_any_attendees_certificate(app, make_event, make_registration):
    slug = make_event()
    ada = make_registration(slug)
    _check_in(app, slug, ada, 2)
    add_account(app)
    client = app.test_client()
    log_in(client)
    response = client.get(f"/admin/attendees/{ada.id}/certificate.pdf")
    assert response.status_code == 200 and response.get_data().startswith(b"%PDF-")


def test_the_manage_page_offers_the_certificate_only_after_a_check_in(app, client, make_event, make_registration):
    slug = make_event()
    ada = make_registration(slug)
    with app.app_context():
        manage = f"/manage/{make_manage_token(ada.code, ada.token_version)}"
    assert "Download your certificate" not in client.get(manage).get_data(as_text=True)
    _check_in(app, slug, ada)
    assert "Download your certificate" in client.get(manage).get_data(as_text=True)


def test_without_the_font_names_fall_back_to_latin_letters(make_app, tmp_path):
    from portal.registration.certificate import certificate_pdf
    from portal.registration.models import Registration
    from tests.support.registration import add_registration, new_event

    app = make_app(CERTIFICATE_FONT_DIR=str(tmp_path))
    slug = new_event(app)
    zoe = add_registration(app, slug, first_name="Zoë", last_name="Łukasz 東京", email="zoe@example.org")
    _check_in(app, slug, zoe)
    with app.app_context():
        pdf = certificate_pdf(db.session.get(Registration, zoe.id))
    assert pdf.startswith(b"%PDF-") and b"Helvetica" in pdf
