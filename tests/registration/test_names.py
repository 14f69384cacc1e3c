"""Names as people write them: joiners inside Persian words and emoji register; invisible controls do not."""
import pytest

from tests.support.mail import outbox
from tests.support.registration import new_event, register, registrations
from tests.support.web import page_text

INVISIBLE_MESSAGE = "Please remove invisible formatting characters"
SCOTLAND = "🏴\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f"  # a flag made of tag characters

WRITTEN_NAMES = [
    ("مهرداد", "نیک\u200cپور"),  # ZWNJ, as a Persian keyboard types it
    ("Ana 👩\u200d🔬", "Lovelace"),  # a ZWJ emoji sequence
    ("Ada", "Lovelace 👨\u200d👩\u200d👧\u200d👦"),
    ("Ada", f"Lovelace {SCOTLAND}"),
]

HIDDEN_CHARACTERS = [
    pytest.param("Ada\u202eecalevoL", id="right-to-left-override"),
    pytest.param("Ada\u202aLovelace\u202c", id="embedding"),
    pytest.param("\u2067Ada\u2069", id="isolate"),
    pytest.param("Ada\u200f", id="right-to-left-mark"),
    pytest.param("Ada\u200bLovelace", id="zero-width-space"),
    pytest.param("Ada\u00adLovelace", id="soft-hyphen"),
    pytest.param("Ada\u2060", id="word-joiner"),
    pytest.param("\ufeffAda", id="byte-order-mark"),
    pytest.param("\u3164", id="hangul-filler"),  # a blank that Unicode calls a letter
    pytest.param("\u200dAda", id="leading-joiner"),
    pytest.param("Ada\u200c", id="trailing-non-joiner"),
    pytest.param("\u200c", id="only-a-non-joiner"),
    pytest.param("Ada \u200dLovelace", id="joiner-after-a-space"),
    pytest.param("Ada\u200c\u200dLovelace", id="two-joiners"),
    pytest.param("Ada\U000e0041", id="tag-outside-a-flag"),
]


@pytest.fixture
def form_app(make_app):
    return make_app(RATELIMIT_ENABLED=False)


@pytest.mark.parametrize(("first_name", "last_name"), WRITTEN_NAMES, ids=["zwnj", "zwj-emoji", "family-emoji", "flag"])
def test_names_with_joiners_inside_register_as_written(form_app, first_name, last_name):
    slug = new_event(form_app)
    response = register(form_app.test_client(), slug, first_name=first_name, last_name=last_name)
    assert response.status_code == 303
    [registration] = registrations(form_app, slug)
    assert (registration.first_name, registration.last_name) == (first_name, last_name)


@pytest.mark.parametrize("value", HIDDEN_CHARACTERS)
def test_a_name_with_hidden_characters_is_refused_next_to_the_field_and_nothing_written(form_app, value):
    slug = new_event(form_app)
    response = register(form_app.test_client(), slug, last_name=value)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'id="last_name-error"' in html
    assert page_text(response).count(INVISIBLE_MESSAGE) == 2  # in the summary and next to the field
    assert registrations(form_app, slug) == []
    assert outbox(form_app) == []
