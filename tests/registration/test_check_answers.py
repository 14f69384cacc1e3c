"""Check your answers: every answer shown with a "Change" control, nothing lost going back and forth."""
import re

import pytest

from portal.registration.forms import ANSWER_FIELDS
from tests.support.registration import VALID_FORM, new_event, register, registrations
from tests.support.web import csrf_token_from, page_text


@pytest.fixture
def reg_app(make_app):
    return make_app(RATELIMIT_ENABLED=False)


def _hidden_fields(html: str) -> dict[str, str]:
    found = re.findall(r'<input type="hidden" name="([a-z_]+)" value="([^"]*)"', html)
    return {name: value for name, value in found if name in ANSWER_FIELDS}


def _post(client, slug, data):
    return client.post(f"/events/{slug}/register", data=data)


def _answers(client, slug, **fields):
    token = csrf_token_from(client.get(f"/events/{slug}/register").get_data(as_text=True))
    data = {**VALID_FORM, **fields, "csrf_token": token}
    data.pop("confirm")
    return token, data


def test_valid_answers_are_shown_for_checking_and_nothing_is_saved(reg_app):
    slug = new_event(reg_app)
    client = reg_app.test_client()
    _, data = _answers(client, slug, email="ada@example.org", dietary="vegan")
    response = _post(client, slug, data)

    assert response.status_code == 200
    html = response.get_data(as_text=True)
    text = page_text(response)
    for shown in ["Check your answers", "Ada Lovelace", "ada@example.org", "Analytical Engine Society",
                  "Society member ($395.00)", "Both days (Mon, Sep 23 and Tue, Sep 24)", "vegan",
                  "Confirm and register"]:
        assert shown in text, shown
    for field in ["first_name", "email", "organization", "job_title", "category", "days", "dietary",
                  "accessibility", "newsletter"]:
        assert f'name="change" value="{field}"' in html, field
    assert registrations(reg_app, slug) == []


def test_change_returns_to_the_form_with_every_answer_and_focus_on_that_field(reg_app):
    slug = new_event(reg_app)
    client = reg_app.test_client()
    _, data = _answers(client, slug, organization="Engines Ltd", days="2", dietary="line one\r\nline two")
    carried = _hidden_fields(_post(client, slug, data).get_data(as_text=True))

    form = _post(client, slug, {**carried, "csrf_token": data["csrf_token"], "change": "email"})
    html = form.get_data(as_text=True)
    assert form.status_code == 200 and "Error" not in page_text(form)
    assert re.search(r'<input[^>]*autofocus[^>]*name="email"|<input[^>]*name="email"[^>]*autofocus', html)
    assert 'value="Engines Ltd"' in html and '<input checked id="days-2"' in html
    assert "line one\nline two" in html

    again = _post(client, slug, {**carried, "csrf_token": data["csrf_token"], "confirm": "yes"})
    assert again.status_code == 303
    [registration] = registrations(reg_app, slug)
    assert registration.organization == "Engines Ltd" and registration.dietary == "line one\nline two"
    assert [day.position for day in registration.days] == [2]


def test_privacy_notice_opens_with_the_answers_and_back_returns_them(reg_app):
    slug = new_event(reg_app)
    client = reg_app.test_client()
    token = csrf_token_from(client.get(f"/events/{slug}/register").get_data(as_text=True))
    typed = {"csrf_token": token, "first_name": "Grace", "email": "grace@example.org", "show": "privacy"}
    notice = _post(client, slug, typed)

    assert notice.status_code == 200 and "Privacy notice for registration" in page_text(notice)
    carried = _hidden_fields(notice.get_data(as_text=True))
    assert carried == {"first_name": "Grace", "email": "grace@example.org"}
    back = _post(client, slug, {**carried, "csrf_token": token, "change": "privacy"})
    html = back.get_data(as_text=True)
    assert back.status_code == 200 and 'value="Grace"' in html and 'value="grace@example.org"' in html
    assert "Please correct" not in html
    assert registrations(reg_app, slug) == []


def test_outcome_page_echoes_the_address_days_category_and_fee(reg_app):
    slug = new_event(reg_app)
    client = reg_app.test_client()
    response = register(client, slug, email="grace@example.org", days="1", category="member")
    done = page_text(client.get(response.headers["Location"]))
    for shown in ["Email sent to grace@example.org", "Day 1 only (Mon, Sep 23)", "Society member", "$395.00",
                  "Wrong address?"]:
        assert shown in done, shown


def test_the_register_page_marks_a_full_day_before_anyone_submits(reg_app):
    slug = new_event(reg_app, day_capacity=1)
    register(reg_app.test_client(), slug, email="first@example.org", days="2")
    text = page_text(reg_app.test_client().get(f"/events/{slug}/register"))
    assert "Day 1 only: Monday, September 23, 2030 " in text and "Day 1 only: Monday, September 23, 2030 —" not in text
    assert "Day 2 only: Tuesday, September 24, 2030 — full, join the waiting list" in text
    assert "Both days: September 23–24, 2030 — full, join the waiting list" in text
