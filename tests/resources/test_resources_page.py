"""/resources: the grouped catalog and its GET filters, including hand-edited URLs."""
import pytest

from portal.resources.service import load_catalog
from tests.pages.structure import parse, squash


def get(app, url: str):
    response = app.test_client().get(url)
    assert response.status_code == 200
    return response


def listed_slugs(response) -> list[str]:
    return [li.attrs["id"] for li in parse(response.get_data(as_text=True)).find_all("li", class_="resource")]


def notice_text(response) -> str:
    problem = parse(response.get_data(as_text=True)).by_id("filter-problem")
    return squash(problem.text) if problem else ""


def summary_text(response) -> str:
    return squash(parse(response.get_data(as_text=True)).by_id("filter-summary").text)


ALL_SLUGS = sorted(item["slug"] for item in load_catalog()["resources"])


def test_resources_page_lists_every_entry_with_its_slug_as_anchor(seeded):
    assert sorted(listed_slugs(get(seeded, "/resources"))) == ALL_SLUGS


def test_resources_page_groups_the_catalog_under_section_headings(seeded):
    document = parse(get(seeded, "/resources").get_data(as_text=True))
    headings = [squash(h.text) for h in document.find_all("h2") if h.attrs.get("id", "").startswith("section-")]
    assert headings == [
        "Research programs and funders",
        "Clinical trials",
        "FDA guidances",
        "NIH oversight",
        "Journals",
        "Sister societies",
    ]


def test_resources_page_lists_fda_guidances_oldest_first(seeded):
    guidances = [slug for slug in listed_slugs(get(seeded, "/resources")) if slug.startswith("fda-")]
    years = [int(slug.split("-")[1]) for slug in guidances]
    assert years == sorted(years)
    assert len(guidances) == 19


def test_resources_page_explains_the_rac_became_nextrac(seeded):
    text = squash(parse(get(seeded, "/resources").get_data(as_text=True)).by_id("main").text)
    assert "NExTRAC in 2019" in text


def test_external_links_open_with_noopener(seeded):
    document = parse(get(seeded, "/resources").get_data(as_text=True))
    external = [a for a in document.find_all("a") if a.attrs["href"].startswith(("http://", "https://"))]
    assert {a.attrs["href"] for a in external} >= {"https://clinicaltrials.gov/", "https://www.cirm.ca.gov/"}
    for link in external:
        assert "noopener" in link.attrs.get("rel", "").split(), link.attrs["href"]


def test_every_entry_title_links_to_its_official_address(seeded):
    document = parse(get(seeded, "/resources").get_data(as_text=True))
    external = {
        squash(a.text).replace(" (external site)", ""): a.attrs["href"]
        for a in document.find_all("a") if "external" in a.attrs.get("rel", "").split()
    }
    assert external == {item["title"]: item["url"] for item in load_catalog()["resources"]}


def test_entries_without_address_are_not_links(seeded):
    from portal.extensions import db
    from portal.resources.models import Resource

    with seeded.app_context():
        db.session.query(Resource).filter_by(slug="nhlbi-gtrp").update({"url": None})
        db.session.commit()
    document = parse(get(seeded, "/resources").get_data(as_text=True))
    title = next(h for h in document.find_all("h3") if "Gene Therapy Resource Program" in h.text)
    assert squash(title.text) == "Gene Therapy Resource Program (GTRP)"
    assert not [a for a in document.find_all("a") if "Gene Therapy Resource Program" in a.text]


def test_topic_filter_narrows_the_list(seeded):
    response = get(seeded, "/resources?topic=journals")
    assert listed_slugs(response) == [item["slug"] for item in load_catalog()["resources"] if item["kind"] == "journal"]


def test_kind_filter_narrows_the_list(seeded):
    assert listed_slugs(get(seeded, "/resources?kind=oversight-policy")) == ["nih-guidelines-rdna", "nih-nextrac"]


def test_topic_and_kind_filters_combine(seeded):
    response = get(seeded, "/resources?topic=clinical-trials&kind=fda-guidance")
    assert listed_slugs(response) == [
        "fda-2011-cancer-vaccines",
        "fda-2015-shedding-studies",
        "fda-2020-long-term-follow-up",
        "fda-2020-hemophilia",
        "fda-2020-rare-diseases",
        "fda-2020-retinal-disorders",
    ]


def test_selected_filters_are_shown_and_kept_in_the_form(seeded):
    response = get(seeded, "/resources?topic=clinical-trials&kind=fda-guidance")
    assert "Showing 6 resources for: Topic: Clinical trials Kind: FDA guidances" in summary_text(response)
    document = parse(response.get_data(as_text=True))
    selected = {o.attrs["value"] for o in document.find_all("option") if "selected" in o.attrs}
    assert selected == {"clinical-trials", "fda-guidance"}


def test_active_filters_offer_a_way_back_to_everything(seeded):
    document = parse(get(seeded, "/resources?kind=journal").get_data(as_text=True))
    assert [a for a in document.find_all("a", href="/resources") if squash(a.text) == "Clear filters"]


def test_unfiltered_page_says_it_shows_everything(seeded):
    response = get(seeded, "/resources")
    assert summary_text(response) == f"Showing all {len(ALL_SLUGS)} resources."
    assert notice_text(response) == ""


def test_unknown_topic_shows_a_message_and_the_full_list(seeded):
    response = get(seeded, "/resources?topic=astrology")
    assert "The topic in the address is not one we list" in notice_text(response)
    assert "All resources are shown instead" in notice_text(response)
    assert sorted(listed_slugs(response)) == ALL_SLUGS


def test_unknown_kind_shows_a_message_and_the_full_list(seeded):
    response = get(seeded, "/resources?kind=pamphlet")
    assert "The kind in the address is not one we list" in notice_text(response)
    assert sorted(listed_slugs(response)) == ALL_SLUGS


def test_unknown_kind_still_applies_a_valid_topic(seeded):
    response = get(seeded, "/resources?topic=journals&kind=pamphlet")
    assert "Only the filters we recognized are applied" in notice_text(response)
    assert listed_slugs(response)[0] == "journal-cancer-gene-therapy"
    assert "Topic: Journals" in summary_text(response)


def test_unknown_values_are_not_echoed_back(seeded):
    response = get(seeded, "/resources?topic=zz-injected-topic&kind=zz-injected-kind")
    assert "zz-injected" not in response.get_data(as_text=True)


@pytest.mark.parametrize(
    "query",
    [
        "topic=" + "x" * 5000,
        "kind=" + "é" * 2000,
        "topic=%E2%9C%93%F0%9F%A7%AC",
        "topic=%00&kind=%00",
        "topic=%FF%FE",
        "topic=%3Cscript%3Ealert(1)%3C%2Fscript%3E",
        "topic='%20OR%201=1--",
        "topic[]=journals&kind[]=journal",
        "topic=journals&topic=policy&topic=" + "y" * 300,
        "kind=&kind=journal",
    ],
)
def test_tampered_filter_values_never_break_the_page(seeded, query):
    response = seeded.test_client().get("/resources?" + query)
    assert response.status_code == 200
    assert "<script>alert" not in response.get_data(as_text=True)


def test_tampered_topic_shows_the_full_list(seeded):
    response = get(seeded, "/resources?topic=%00%FF" + "x" * 500)
    assert "The topic in the address is not one we list" in notice_text(response)
    assert sorted(listed_slugs(response)) == ALL_SLUGS


def test_repeated_parameter_uses_its_first_value(seeded):
    response = get(seeded, "/resources?kind=journal&kind=society")
    assert {slug.split("-")[0] for slug in listed_slugs(response)} == {"journal"}


def test_empty_filter_values_mean_no_filter(seeded):
    response = get(seeded, "/resources?topic=&kind=")
    assert sorted(listed_slugs(response)) == ALL_SLUGS
    assert notice_text(response) == ""


def test_filters_with_no_match_say_so(seeded):
    response = get(seeded, "/resources?topic=journals&kind=society")
    assert listed_slugs(response) == []
    text = squash(parse(response.get_data(as_text=True)).by_id("main").text)
    assert "No resource matches this combination of filters" in text


def test_empty_catalog_still_renders(app):
    response = get(app, "/resources")
    assert listed_slugs(response) == []
    assert "No resources have been published yet" in response.get_data(as_text=True)


def test_filter_form_is_a_plain_get_form_with_labelled_controls(seeded):
    document = parse(get(seeded, "/resources").get_data(as_text=True))
    form = document.find_all("form", class_="filters")[0]
    assert form.attrs["method"] == "get"
    assert form.attrs["action"] == "/resources"
    labelled = {label.attrs["for"] for label in document.find_all("label")}
    # The cookie banner's switches and the footer's newsletter signup are forms of their own.
    controls = document.find_all("select") + [
        i for i in document.find_all("input")
        if i.attrs.get("type") not in {"hidden", "submit"} and i.attrs.get("role") != "switch"
        and not i.attrs["name"].startswith("footer-")
    ]
    assert {c.attrs["name"] for c in controls} == {"q", "topic", "kind"}
    for control in controls:
        assert control.attrs["id"] in labelled


def test_topic_tags_link_to_their_filter(seeded):
    document = parse(get(seeded, "/resources").get_data(as_text=True))
    tag_links = {a.attrs["href"] for a in document.find_all("a", class_="tag")}
    assert "/resources?topic=clinical-trials" in tag_links
