"""Wording a one-day attendee and an organiser read: their own dates, fees that say "no fee", plain counts."""
import pytest

from portal.registration.display import promoted_sentence
from tests.support.mail import outbox
from tests.support.registration import new_event, register
from tests.support.web import page_text


@pytest.fixture
def reg_app(make_app):
    return make_app(RATELIMIT_ENABLED=False)


def test_a_day_one_only_confirmation_names_only_day_one(reg_app):
    slug = new_event(reg_app)
    register(reg_app.test_client(), slug, email="ada@example.org", days="1")

    [email] = outbox(reg_app, "registration_confirmed")
    assert email.subject.endswith("Monday, September 23, 2030")
    assert "Day 1: Monday, September 23, 2030" in email.text
    assert "Day 2" not in email.text and "September 24" not in email.text


def test_the_form_says_fees_are_per_person_and_a_free_category_has_no_fee(reg_app):
    slug = new_event(reg_app)
    text = page_text(reg_app.test_client().get(f"/events/{slug}/register"))
    assert "Each fee is per person, whether you attend one day or every day." in text
    assert "Patient advocate (no fee)" in text and "(No fee)" not in text


def test_promotions_are_counted_in_words_without_plural_brackets():
    assert promoted_sentence(1) == "1 person on the waiting list got a seat and has been emailed."
    assert promoted_sentence(3) == "3 people on the waiting list got a seat and have been emailed."


def test_pages_name_the_city_as_washington_dc_with_points_and_the_hero_gives_the_year(reg_app):
    slug = new_event(reg_app)
    client = reg_app.test_client()
    for path in [f"/events/{slug}", f"/events/{slug}/register"]:
        text = page_text(client.get(path))
        assert "Washington, D.C." in text, path
        assert "Washington, DC 20001" in text or path.endswith("/register"), path  # the postal address keeps USPS form
    assert "When September 23–24, 2030" in page_text(client.get("/"))
