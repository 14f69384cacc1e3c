"""A refused form says what really happened, and keeps what was typed when that is safe."""
import html
import re

from tests.support.admin import ADMIN_EMAIL, PASSWORD, add_account
from tests.support.newsletter import subscriber_state
from tests.support.web import csrf_token_from, page_text

HTTPS = "https://127.0.0.1:5000"


def _hidden_fields(body: str) -> dict[str, list[str]]:
    """The fields of the page's "Send again" form."""
    form = body[body.index('class="resend-form"'):]
    form = form[:form.index("</form>")]
    fields: dict[str, list[str]] = {}
    for name, value in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', form):
        fields.setdefault(html.unescape(name), []).append(html.unescape(value))
    return fields


def test_a_form_posted_from_another_site_over_https_says_so_and_changes_nothing(app):
    client = app.test_client()
    token = csrf_token_from(client.get("/newsletter/", base_url=HTTPS).get_data(as_text=True))
    response = client.post("/newsletter/", base_url=HTTPS, headers={"Referer": "https://evil.example/form"},
                           data={"csrf_token": token, "email": "ada@example.org", "frequency": "monthly"})
    assert response.status_code == 400
    text = page_text(response)
    assert "This form came from another site" in text and "expired" not in text
    assert "Send again" not in text
    assert subscriber_state(app, "ada@example.org") is None


def test_a_form_without_a_referer_over_https_is_not_called_expired(app):
    client = app.test_client()
    token = csrf_token_from(client.get("/newsletter/", base_url=HTTPS).get_data(as_text=True))
    response = client.post("/newsletter/", base_url=HTTPS, data={"csrf_token": token, "email": "ada@example.org"})
    assert response.status_code == 400
    assert "Your browser did not say where this form came from" in page_text(response)
    assert "Send again" not in page_text(response)


def test_an_expired_form_from_the_portal_keeps_what_was_typed_but_not_the_password(app):
    add_account(app)
    token = csrf_token_from(app.test_client().get("/admin/login").get_data(as_text=True))
    browser = app.test_client()  # another session: its form session is gone
    response = browser.post("/admin/login", headers={"Origin": "http://localhost"},
                            data={"csrf_token": token, "email": ADMIN_EMAIL, "password": PASSWORD})
    assert response.status_code == 400
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_data(as_text=True)
    assert "Your form session expired" in page_text(response)
    fields = _hidden_fields(body)
    assert fields["email"] == [ADMIN_EMAIL]
    assert "password" not in fields and PASSWORD not in body
    assert fields["csrf_token"] != [token]


def test_sending_an_expired_form_again_completes_it(app):
    stale = csrf_token_from(app.test_client().get("/newsletter/").get_data(as_text=True))
    browser = app.test_client()
    refused = browser.post("/newsletter/", headers={"Referer": "http://localhost/newsletter/"},
                           data={"csrf_token": stale, "email": "ada@example.org", "frequency": "weekly",
                                 "topics": ["events"], "first_name": "Ada & \"Co\""})
    assert refused.status_code == 400
    fields = _hidden_fields(refused.get_data(as_text=True))
    assert fields["topics"] == ["events"] and fields["first_name"] == ["Ada & \"Co\""]

    again = browser.post("/newsletter/", data=fields, headers={"Referer": "http://localhost/newsletter/"})
    assert again.status_code == 303, page_text(again)[:3000]


def test_an_expired_form_from_another_site_is_not_offered_again(app):
    stale = csrf_token_from(app.test_client().get("/newsletter/").get_data(as_text=True))
    response = app.test_client().post("/newsletter/", headers={"Origin": "https://evil.example"},
                                      data={"csrf_token": stale, "email": "ada@example.org"})
    assert response.status_code == 400
    assert "Send again" not in page_text(response)
    assert "ada@example.org" not in response.get_data(as_text=True)


def test_an_expired_set_password_form_keeps_neither_password(app):
    stale = csrf_token_from(app.test_client().get("/newsletter/").get_data(as_text=True))
    response = app.test_client().post("/admin/set-password/some-token", headers={"Origin": "http://localhost"},
                                      data={"csrf_token": stale, "password": "first secret words",
                                            "confirm": "first secret words"})
    assert response.status_code == 400
    assert "first secret words" not in response.get_data(as_text=True)
