"""What every public page shares: the layout, its accessibility structure and its security headers."""
from datetime import date

import pytest

from tests.pages.structure import parse, squash

PUBLIC_PAGES = ["/", "/priorities", "/resources", "/privacy", "/contact", "/accessibility"]


@pytest.fixture(params=PUBLIC_PAGES)
def rendered(request, seeded):
    response = seeded.test_client().get(request.param)
    assert response.status_code == 200
    return response


def test_every_page_sends_a_strict_content_security_policy(rendered):
    policy = rendered.headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy
    assert "style-src 'self'" in policy
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy


def test_every_page_sends_the_other_security_headers(rendered):
    assert rendered.headers["X-Content-Type-Options"] == "nosniff"
    assert rendered.headers["X-Frame-Options"] == "DENY"
    assert rendered.headers["Referrer-Policy"] == "same-origin"


def test_every_page_declares_its_language(rendered):
    assert parse(rendered.get_data(as_text=True)).root_attrs.get("lang") == "en"


def test_every_page_has_exactly_one_h1(rendered):
    assert len(parse(rendered.get_data(as_text=True)).find_all("h1")) == 1


def test_every_page_has_header_nav_main_and_footer_landmarks(rendered):
    document = parse(rendered.get_data(as_text=True))
    for landmark in ("header", "nav", "main", "footer"):
        assert document.find_all(landmark), f"no <{landmark}>"
    assert len(document.find_all("main")) == 1


def test_skip_link_comes_first_and_targets_main(rendered):
    document = parse(rendered.get_data(as_text=True))
    first_link = document.find_all("a")[0]
    assert "skip-link" in first_link.attrs["class"].split()
    target = first_link.attrs["href"].removeprefix("#")
    assert document.by_id(target).tag == "main"


def test_ids_on_a_page_are_unique(rendered):
    ids = parse(rendered.get_data(as_text=True)).ids()
    assert len(ids) == len(set(ids))


def test_every_page_offers_summit_registration(rendered):
    document = parse(rendered.get_data(as_text=True))
    ctas = [a for a in document.find_all("a", href="/summit") if squash(a.text) == "Register for the Policy Summit"]
    assert ctas


def test_every_page_links_the_privacy_notice_from_its_footer(rendered):
    document = parse(rendered.get_data(as_text=True))
    footer_links = [a for a in document.find_all("a", href="/privacy") if squash(a.text) == "Privacy notice"]
    assert len(footer_links) == 1


def test_every_page_marks_its_own_menu_entry_as_current(rendered):
    document = parse(rendered.get_data(as_text=True))
    current = document.find_all("a", **{"aria-current": "page"})
    assert len(current) == 1
    assert current[0].attrs["href"] == rendered.request.path


def test_pages_have_no_inline_styles_or_scripts(rendered):
    # The CSP would block them in the browser; catching them here names the culprit.
    document = parse(rendered.get_data(as_text=True))
    assert not [e for e in document.elements if "style" in e.attrs]
    assert not document.find_all("style")
    assert not [s for s in document.find_all("script") if "src" not in s.attrs]


def test_pages_load_assets_only_from_their_own_origin(rendered):
    document = parse(rendered.get_data(as_text=True))
    assets = [e.attrs["href"] for e in document.find_all("link")] + [
        e.attrs["src"] for e in document.elements if "src" in e.attrs
    ]
    assert assets
    assert all(url.startswith("/") and not url.startswith("//") for url in assets), assets


def test_images_have_alt_text(rendered):
    for image in parse(rendered.get_data(as_text=True)).find_all("img"):
        assert "alt" in image.attrs


def test_stylesheet_is_served_as_css(client):
    # A static file response holds the file open until closed.
    with client.get("/static/css/site.css") as response:
        assert response.status_code == 200
        assert response.mimetype == "text/css"
        assert b".skip-link:focus" in response.data
        assert b":focus-visible" in response.data


def test_error_page_keeps_the_layout_and_one_h1(client):
    response = client.get("/no-such-page")
    assert response.status_code == 404
    document = parse(response.get_data(as_text=True))
    assert len(document.find_all("h1")) == 1
    assert document.find_all("main")
    assert document.find_all("a", href="/summit")


def test_the_header_strip_announces_the_featured_events_dates_and_city(app, make_event, client):
    make_event(first_day=date(2031, 9, 23))
    strip = client.get("/").get_data(as_text=True).split('class="summit-strip__text"')[1].split("</p>")[0]
    assert "September 23–24, 2031" in strip and "Washington, D.C." in strip


def test_without_an_event_the_header_strip_names_only_the_summit(client):
    strip = client.get("/").get_data(as_text=True).split('class="summit-strip__text"')[1].split("</p>")[0]
    assert "Policy Summit" in strip and "Washington" not in strip


@pytest.mark.parametrize("path", ["/newsletter/", "/newsletter/manage", "/cookies"])
def test_pages_with_a_form_besides_the_footers_and_the_banners_keep_ids_unique(client, path):
    ids = parse(client.get(path).get_data(as_text=True)).ids()
    assert len(ids) == len(set(ids))


def test_every_page_names_the_society_in_its_footer(rendered):
    document = parse(rendered.get_data(as_text=True))
    [footer] = document.find_all("footer")
    assert "run by Gene & Cell Therapy Society" in squash(footer.text)
