"""The privacy notices list every kind the registry declares for them, with the periods the settings give."""
import re

import pytest

from portal.retention import registry
from tests.pages.structure import parse, squash

#: Any stated duration, in figures or words.
DURATION = re.compile(
    r"\b(\d+|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve) (day|week|month|year)s?\b", re.I
)


@pytest.fixture
def notice_urls(app, make_event):
    slug = make_event()
    return {registry.EVENT: f"/events/{slug}/privacy", registry.NEWSLETTER: "/newsletter/privacy",
            registry.SITE: "/privacy"}


def _retention_blocks(html: str) -> dict[str, str]:
    document = parse(html)
    return {
        element.attrs["data-retention-kind"]: squash(element.text)
        for element in document.elements if "data-retention-kind" in element.attrs
    }


@pytest.mark.parametrize("notice", [registry.EVENT, registry.NEWSLETTER, registry.SITE])
def test_a_notice_lists_every_kind_declared_for_it_with_its_period(app, notice_urls, notice):
    response = app.test_client().get(notice_urls[notice])
    assert response.status_code == 200
    blocks = _retention_blocks(response.get_data(as_text=True))
    assert set(blocks) == {k.key for k in registry.kinds_for(notice)}
    for kind in registry.kinds_for(notice):
        period = registry.period_text(kind, app.config)
        assert kind.title in blocks[kind.key] and period[1:] in blocks[kind.key], kind.key
        assert kind.afterwards in blocks[kind.key]


def test_the_site_notice_lists_every_declared_kind(app, notice_urls):
    blocks = _retention_blocks(app.test_client().get(notice_urls[registry.SITE]).get_data(as_text=True))
    assert set(blocks) == {k.key for k in registry.KINDS}


@pytest.mark.parametrize("notice", [registry.EVENT, registry.NEWSLETTER, registry.SITE])
def test_a_notice_states_no_period_the_registry_does_not(app, notice_urls, notice):
    text = _text(app.test_client(), notice_urls[notice])
    declared = {registry.period_text(k, app.config) for k in registry.kinds_for(notice)}
    for match in DURATION.finditer(text):
        assert any(period.startswith(match.group(0)) for period in declared), match.group(0)


def test_changing_a_period_setting_changes_the_notices(make_app, portal_env):
    portal_env["RETENTION_REGISTRATION_DAYS"] = "400"
    portal_env["RETENTION_MAIL_BODY_DAYS"] = "45"
    app = make_app()
    from tests.support.registration import new_event

    slug = new_event(app)
    client = app.test_client()
    event_notice = _text(client, f"/events/{slug}/privacy")
    assert "400 days after the event's last day" in event_notice
    assert "365 days after the event" not in event_notice
    assert "45 days after the email was written" in _text(client, "/newsletter/privacy")
    assert "400 days after the event's last day" in _text(client, "/privacy")


def test_the_notices_name_the_controller_and_privacy_contact_from_the_settings(make_app, portal_env):
    portal_env["ORGANIZATION_NAME"] = "Example Therapy Society"
    portal_env["ORGANIZATION_POSTAL_ADDRESS"] = "1 Example Street, Washington, DC 20001, USA"
    portal_env["PRIVACY_CONTACT_EMAIL"] = "privacy@society.example"
    app = make_app()
    from tests.support.registration import new_event

    slug = new_event(app)
    for url in (f"/events/{slug}/privacy", "/newsletter/privacy", "/privacy"):
        document = parse(app.test_client().get(url).get_data(as_text=True))
        section = squash(_section(document, "privacy-controller"))
        assert "Example Therapy Society is the data controller" in section, url
        assert "1 Example Street, Washington, DC 20001, USA" in section, url
        assert document.find_all("a", href="mailto:privacy@society.example"), url


def _text(client, url: str) -> str:
    return squash(parse(client.get(url).get_data(as_text=True)).find_all("main")[0].text)


def _section(document, css_class: str) -> str:
    return document.find_all("section", class_=css_class)[0].text


def test_without_a_privacy_contact_the_notices_give_the_sender_address(make_app, portal_env):
    portal_env["MAIL_DEFAULT_SENDER"] = "Policy Summit <summit@society.example>"
    app = make_app()
    document = parse(app.test_client().get("/privacy").get_data(as_text=True))
    assert document.find_all("a", href="mailto:summit@society.example")
    assert "postal address" not in squash(_section(document, "privacy-controller"))


def test_the_notices_pass_the_nu_html_checker(app, notice_urls, tmp_path):
    from tests.support.vnu import vnu_errors

    client = app.test_client()
    documents = {notice: client.get(url).get_data(as_text=True) for notice, url in notice_urls.items()}
    assert vnu_errors(documents, tmp_path) == {notice: [] for notice in documents}
