"""Bytes that are not UTF-8 in a posted field: a message next to that field, in either form encoding, and nothing written."""
from urllib.parse import quote

import pytest
from sqlalchemy import func, select

from portal.deferred.models import DeferredRequest
from portal.extensions import db
from portal.forms import NOT_UTF8
from portal.newsletter.models import Subscriber
from portal.registration.models import Registration
from tests.support.registration import VALID_FORM, new_event
from tests.support.web import csrf_token_from

#: Each field's raw bytes: a Latin-1 byte in a name, two stray bytes in an address.
UNDECODABLE = {"first_name": b"Bad\xffName", "email": b"a\xff\xfe@example.org"}
BOUNDARY = "portal-test-boundary"


def _urlencoded(fields: dict[str, bytes]) -> tuple[bytes, str]:
    body = "&".join(f"{name}={quote(value)}" for name, value in fields.items())
    return body.encode("ascii"), "application/x-www-form-urlencoded"


def _multipart(fields: dict[str, bytes]) -> tuple[bytes, str]:
    parts = [b'--%s\r\nContent-Disposition: form-data; name="%s"\r\n\r\n%s\r\n' % (BOUNDARY.encode(), name.encode(), value)
             for name, value in fields.items()]
    return b"".join(parts) + b"--%s--\r\n" % BOUNDARY.encode(), f"multipart/form-data; boundary={BOUNDARY}"


ENCODINGS = {"urlencoded": _urlencoded, "multipart": _multipart}


def _post(client, path: str, fields: dict[str, str], bad_field: str, encoding: str):
    """The form as a browser would post it, with `bad_field`'s value replaced by bytes that are not UTF-8."""
    token = csrf_token_from(client.get(path).get_data(as_text=True))
    raw = {name: value.encode() for name, value in {**fields, "csrf_token": token}.items()}
    raw[bad_field] = UNDECODABLE[bad_field]
    body, content_type = ENCODINGS[encoding](raw)
    return client.post(path, data=body, content_type=content_type)


def _rows_written(app) -> int:
    with app.app_context():
        return sum(db.session.scalar(select(func.count()).select_from(model))
                   for model in (Registration, Subscriber, DeferredRequest))


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("field", UNDECODABLE)
def test_undecodable_bytes_in_the_registration_form_are_a_field_error(make_app, encoding, field):
    app = make_app(RATELIMIT_ENABLED=False)
    slug = new_event(app)
    response = _post(app.test_client(), f"/events/{slug}/register", VALID_FORM, field, encoding)
    assert response.status_code == 200  # the form comes back, as for any invalid input
    html = response.get_data(as_text=True)
    assert f'id="{field}-error"' in html and html.count(NOT_UTF8) == 2  # the summary and the field
    assert _rows_written(app) == 0


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("field", UNDECODABLE)
def test_undecodable_bytes_in_the_newsletter_signup_are_a_field_error(make_app, encoding, field):
    app = make_app(RATELIMIT_ENABLED=False)
    fields = {"email": "ada@example.org", "first_name": "Ada", "topics": "events", "frequency": "monthly"}
    response = _post(app.test_client(), "/newsletter/", fields, field, encoding)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert f'id="{field}-error"' in html and NOT_UTF8 in html
    assert _rows_written(app) == 0
