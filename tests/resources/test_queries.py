from sqlalchemy import select

from portal.extensions import db
from portal.resources import service
from portal.resources.models import Resource, Topic


def by_slug(slug: str) -> Resource:
    return db.session.scalar(select(Resource).where(Resource.slug == slug))


def slugs(resources) -> list[str]:
    return [r.slug for r in resources]


def catalog_slugs(kind: str) -> list[str]:
    return [item["slug"] for item in service.load_catalog()["resources"] if item["kind"] == kind]


def test_fda_guidances_are_listed_by_year_of_issue(seeded):
    with seeded.app_context():
        guidances = service.list_resources(kind="fda-guidance")
    years = [g.year for g in guidances]
    assert years == sorted(years)
    assert guidances[0].slug == "fda-1998-somatic-cell-gene-therapy"


def test_fda_guidances_of_the_same_year_keep_catalog_order(seeded):
    with seeded.app_context():
        from_2020 = [g.slug for g in service.list_resources(kind="fda-guidance") if g.year == 2020]
    assert from_2020 == [slug for slug in catalog_slugs("fda-guidance") if slug.startswith("fda-2020-")]


def test_fda_guidances_follow_year_even_when_the_file_lists_them_out_of_order(seeded):
    with seeded.app_context():
        by_slug("fda-1998-somatic-cell-gene-therapy").position = 999
        db.session.commit()
        guidances = service.list_resources(kind="fda-guidance")
    assert guidances[0].slug == "fda-1998-somatic-cell-gene-therapy"


def test_other_kinds_keep_catalog_order(seeded):
    with seeded.app_context():
        journals = service.list_resources(kind="journal")
        societies = service.list_resources(kind="society")
    assert slugs(journals) == catalog_slugs("journal")
    assert slugs(societies) == catalog_slugs("society")


def test_full_list_follows_the_section_order_of_the_page(seeded):
    with seeded.app_context():
        groups = service.group_resources(service.list_resources())
    assert [g.section.heading for g in groups] == [
        "Research programs and funders",
        "Clinical trials",
        "FDA guidances",
        "NIH oversight",
        "Journals",
        "Sister societies",
    ]


def test_research_section_gathers_programs_foundations_and_funders(seeded):
    with seeded.app_context():
        research = service.group_resources(service.list_resources())[0]
    assert {r.kind for r in research.resources} == {"program", "foundation", "funder"}
    assert slugs(research.resources)[:2] == ["nhlbi-gtrp", "ggact"]


def test_list_resources_filters_by_topic(seeded):
    with seeded.app_context():
        listed = service.list_resources(topic="clinical-trials")
        assert listed
        assert all("clinical-trials" in [t.slug for t in r.topics] for r in listed)
        assert "clinicaltrials-gov" in slugs(listed)


def test_list_resources_filters_by_kind(seeded):
    with seeded.app_context():
        listed = service.list_resources(kind="oversight-policy")
    assert slugs(listed) == ["nih-guidelines-rdna", "nih-nextrac"]


def test_list_resources_combines_topic_and_kind(seeded):
    with seeded.app_context():
        listed = service.list_resources(topic="research-funding", kind="program")
    assert slugs(listed) == ["nhlbi-gtrp", "ggact"]


def test_a_kind_without_a_section_is_listed_last_under_other_resources(seeded):
    with seeded.app_context():
        db.session.add(Resource(slug="gene-podcast", title="A podcast", kind="podcast", summary="Listen.", position=-1))
        db.session.commit()
        groups = service.group_resources(service.list_resources())
        kinds = service.list_kinds()
    assert groups[-1].section.heading == "Other resources"
    assert slugs(groups[-1].resources) == ["gene-podcast"]
    assert kinds[-1] == "podcast"
    assert service.kind_label("podcast") == "Podcast"


def test_kinds_are_offered_in_section_order(seeded):
    with seeded.app_context():
        kinds = service.list_kinds()
    assert kinds == ["program", "foundation", "funder", "database", "fda-guidance", "oversight-policy", "journal", "society"]


def test_every_shipped_resource_has_its_own_address():
    catalog = service.load_catalog()
    assert all(entry["url"].startswith(("https://", "http://")) for entry in catalog["resources"])


def test_resource_without_address_links_to_its_entry_on_the_resources_page(seeded):
    with seeded.test_request_context():
        gtrp = by_slug("nhlbi-gtrp")
        gtrp.url = None
        assert service.resource_href(gtrp) == "/resources#nhlbi-gtrp"
        assert service.resource_href(gtrp, external=True) == "http://127.0.0.1:5000/resources#nhlbi-gtrp"


def test_resource_with_address_links_to_it(seeded):
    with seeded.test_request_context():
        registry = by_slug("clinicaltrials-gov")
        assert service.resource_href(registry) == "https://clinicaltrials.gov/"


def test_topic_label_reads_its_slug_as_words():
    assert Topic(slug="research-funding", description="").label == "Research funding"


def test_choose_filters_accepts_known_values(seeded):
    with seeded.app_context():
        filters = service.choose_filters("journals", "journal")
    assert filters.topic.slug == "journals"
    assert filters.kind == "journal"
    assert filters.active
    assert not (filters.unknown_topic or filters.unknown_kind)


def test_choose_filters_flags_unknown_values_and_drops_them(seeded):
    with seeded.app_context():
        filters = service.choose_filters("astrology", "pamphlet")
    assert filters.topic is None and filters.kind is None
    assert filters.unknown_topic and filters.unknown_kind
    assert not filters.active


def test_choose_filters_treats_blank_values_as_no_filter(seeded):
    with seeded.app_context():
        filters = service.choose_filters("  ", "")
    assert filters == service.Filters()

