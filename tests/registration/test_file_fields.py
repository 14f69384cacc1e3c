"""A file sent where a form expects text is a message next to that field, never a 500, and writes nothing."""
import io

from portal.forms import FILE_IN_TEXT_FIELD
from tests.support.mail import outbox
from tests.support.registration import VALID_FORM, manage_path, new_event, register, registrations
from tests.support.web import csrf_token_from


def _post_with_a_file(client, path: str, fields: dict, file_field: str):
    token = csrf_token_from(client.get(path).get_data(as_text=True))
    data = {**fields, "csrf_token": token, file_field: (io.BytesIO(b"not text"), "payload.txt")}
    return client.post(path, data=data, content_type="multipart/form-data")


def test_a_file_in_the_registration_email_field_is_a_field_error(make_app):
    app = make_app(RATELIMIT_ENABLED=False)
    slug = new_event(app)
    fields = {k: v for k, v in VALID_FORM.items() if k != "email"}
    response = _post_with_a_file(app.test_client(), f"/events/{slug}/register", fields, "email")
    assert response.status_code == 200
    assert FILE_IN_TEXT_FIELD in response.get_data(as_text=True)
    assert registrations(app, slug) == [] and outbox(app) == []


def test_a_file_in_the_lost_link_form_is_a_field_error(make_app):
    app = make_app(RATELIMIT_ENABLED=False)
    response = _post_with_a_file(app.test_client(), "/manage/lost-link", {}, "email")
    assert response.status_code == 200 and FILE_IN_TEXT_FIELD in response.get_data(as_text=True)


def test_a_file_in_the_manage_form_is_a_field_error(make_app):
    app = make_app(RATELIMIT_ENABLED=False)
    slug = new_event(app)
    client = app.test_client()
    register(client, slug)
    path = manage_path(outbox(app, "registration_confirmed")[0].text)
    response = _post_with_a_file(client, path, {"days": "all", "accessibility": ""}, "dietary")
    assert response.status_code == 200 and FILE_IN_TEXT_FIELD in response.get_data(as_text=True)
    assert registrations(app, slug)[0].dietary == ""
