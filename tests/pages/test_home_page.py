from portal.resources.service import load_catalog
from tests.pages.structure import parse, squash


def home(app):
    response = app.test_client().get("/")
    assert response.status_code == 200
    return parse(response.get_data(as_text=True))


def test_home_page_states_the_mission_as_its_heading(app):
    assert squash(home(app).find_all("h1")[0].text) == "Universal access to cell and gene therapies"


def test_home_page_leads_with_the_summit_call_to_action(app):
    hero_buttons = home(app).find_all("a", class_="button--large")
    assert squash(hero_buttons[0].text) == "Register for the Policy Summit"
    assert hero_buttons[0].attrs["href"] == "/summit"


def test_home_page_gives_the_summit_dates_and_city(app):
    text = squash(home(app).find_all("main")[0].text)
    assert "September 23 and 24" in text
    assert "Washington, D.C." in text


def test_home_page_describes_what_the_portal_offers(app):
    headings = [squash(h.text) for h in home(app).find_all("h3")]
    assert {"Join the Policy Summit", "Find trusted resources", "Follow the newsletter"} <= set(headings)


def test_home_page_teases_the_four_priorities_with_links(app):
    links = {squash(a.text): a.attrs["href"] for a in home(app).find_all("a") if "/priorities#" in a.attrs.get("href", "")}
    assert links == {
        "Inform": "/priorities#inform",
        "Teach": "/priorities#teach",
        "Represent": "/priorities#represent",
        "Drive": "/priorities#drive",
    }


def test_home_page_counts_resources_per_catalog_section(seeded):
    catalog = load_catalog()
    guidances = sum(1 for entry in catalog["resources"] if entry["kind"] == "fda-guidance")
    societies = sum(1 for entry in catalog["resources"] if entry["kind"] == "society")
    links = {
        squash(a.text): a.attrs["href"]
        for a in home(seeded).find_all("a")
        if a.attrs.get("href", "").startswith("/resources#section-")
    }
    assert links[f"{guidances} FDA guidances"] == "/resources#section-fda-guidance"
    assert links[f"{societies} Sister societies"] == "/resources#section-societies"


def test_home_page_renders_before_the_catalog_is_seeded(app):
    document = home(app)
    assert not document.find_all("ul", class_="section-counts")
    assert document.find_all("a", href="/resources")

