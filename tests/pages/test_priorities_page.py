from tests.pages.structure import parse, squash


def priorities(client):
    response = client.get("/priorities")
    assert response.status_code == 200
    return parse(response.get_data(as_text=True))


def test_priorities_page_gives_each_priority_its_own_section(client):
    document = priorities(client)
    for slug, name in [("inform", "Inform"), ("teach", "Teach"), ("represent", "Represent"), ("drive", "Drive")]:
        section = document.by_id(slug)
        assert section.tag == "section"
        heading = document.by_id(section.attrs["aria-labelledby"])
        assert heading.tag == "h2"
        assert squash(heading.text).startswith(name)


def test_priorities_page_lists_the_priorities_in_plan_order(client):
    document = priorities(client)
    headings = [squash(h.text).split()[0] for h in document.find_all("h2") if h.attrs.get("id") != "consent-title"]
    assert headings[:4] == ["Inform", "Teach", "Represent", "Drive"]


def test_priorities_page_names_the_three_areas_of_focus(client):
    document = priorities(client)
    focus = squash(document.by_id("focus").text)
    for area in ("Clinical implementation", "Discovery", "Safety and efficacy"):
        assert area in focus


def test_priorities_page_mentions_the_2016_and_2020_plans(client):
    history = squash(priorities(client).by_id("history").text)
    assert "2016" in history
    assert "five goals" in history
    assert "2015" in history
    assert "2020" in history


def test_priorities_page_contents_links_reach_existing_sections(client):
    document = priorities(client)
    toc = document.find_all("nav", **{"aria-label": "On this page"})
    assert toc
    targets = [a.attrs["href"] for a in document.find_all("a") if a.attrs["href"].startswith("#")]
    for target in targets:
        assert document.by_id(target.removeprefix("#")) is not None, target
