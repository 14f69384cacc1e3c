import json

import pytest
from sqlalchemy import func, select

from portal.extensions import db
from portal.resources.models import Resource, Topic
from portal.resources.service import load_catalog, seed_resources


def seed(app) -> dict:
    with app.app_context():
        counts = seed_resources()
        db.session.commit()
    return counts


@pytest.fixture
def catalog_file(tmp_path, monkeypatch):
    """A private copy of the shipped catalog that a test may edit, found through PORTAL_CATALOG_FILE."""
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps(load_catalog()), encoding="utf-8")
    monkeypatch.setenv("PORTAL_CATALOG_FILE", str(path))
    return path


def edit_catalog(path, change) -> None:
    catalog = json.loads(path.read_text(encoding="utf-8"))
    change(catalog)
    path.write_text(json.dumps(catalog), encoding="utf-8")


def entry(catalog: dict, slug: str) -> dict:
    return next(item for item in catalog["resources"] if item["slug"] == slug)


def test_seed_creates_every_resource_and_topic(app):
    catalog = load_catalog()
    assert seed(app) == {"created": len(catalog["resources"]), "updated": 0}
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Resource)) == len(catalog["resources"])
        assert db.session.scalar(select(func.count()).select_from(Topic)) == len(catalog["topics"])


def test_seed_copies_the_facts_of_an_entry(app):
    seed(app)
    with app.app_context():
        ggact = db.session.scalar(select(Resource).where(Resource.slug == "ggact"))
        assert ggact.title == "Growing Gene and Cell Therapy (GGACT)"
        assert ggact.kind == "program"
        assert ggact.year == 2016
        assert ggact.url == "https://www.ggact.org/"
        assert [t.slug for t in ggact.topics] == ["research-funding", "clinical-trials"]


def test_seed_keeps_catalog_order_as_position(app):
    seed(app)
    with app.app_context():
        slugs = db.session.scalars(select(Resource.slug).order_by(Resource.position)).all()
    assert slugs == [item["slug"] for item in load_catalog()["resources"]]


def test_second_seed_creates_and_updates_nothing(app):
    seed(app)
    assert seed(app) == {"created": 0, "updated": 0}
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Resource)) == len(load_catalog()["resources"])


def test_seed_updates_a_changed_entry_in_place(app, catalog_file):
    seed(app)
    edit_catalog(catalog_file, lambda c: entry(c, "cirm").update(summary="Funds stem cell research in California."))
    assert seed(app) == {"created": 0, "updated": 1}
    with app.app_context():
        cirm = db.session.scalar(select(Resource).where(Resource.slug == "cirm"))
        assert cirm.summary == "Funds stem cell research in California."
        assert cirm.updated_at >= cirm.created_at


def test_seed_replaces_the_topics_of_an_entry(app, catalog_file):
    seed(app)
    edit_catalog(catalog_file, lambda c: entry(c, "nih-nextrac").update(topics=["policy", "regulatory"]))
    assert seed(app) == {"created": 0, "updated": 1}
    with app.app_context():
        nextrac = db.session.scalar(select(Resource).where(Resource.slug == "nih-nextrac"))
        assert {t.slug for t in nextrac.topics} == {"policy", "regulatory"}


def test_seed_adds_a_new_entry_and_its_topic(app, catalog_file):
    seed(app)

    def add(catalog):
        catalog["topics"]["manufacturing"] = "Making cell and gene therapy products"
        catalog["resources"].append({
            "slug": "example-entry", "title": "A new entry", "organization": None, "kind": "program",
            "year": None, "url": None, "topics": ["manufacturing"], "summary": "Added after the first seed.",
        })

    edit_catalog(catalog_file, add)
    assert seed(app) == {"created": 1, "updated": 0}
    with app.app_context():
        assert db.session.scalar(select(Topic).where(Topic.slug == "manufacturing")) is not None


def test_seed_updates_a_changed_topic_description(app, catalog_file):
    seed(app)
    edit_catalog(catalog_file, lambda c: c["topics"].update(journals="Where the field publishes"))
    seed(app)
    with app.app_context():
        journals = db.session.scalar(select(Topic).where(Topic.slug == "journals"))
        assert journals.description == "Where the field publishes"


def test_seed_refuses_an_entry_naming_an_undescribed_topic(app, catalog_file):
    edit_catalog(catalog_file, lambda c: entry(c, "cirm").update(topics=["astrology"]))
    with app.app_context(), pytest.raises(ValueError, match="astrology"):
        seed_resources()


def test_seed_explains_where_it_looked_when_the_catalog_is_missing(app, tmp_path, monkeypatch):
    monkeypatch.setenv("PORTAL_CATALOG_FILE", str(tmp_path / "nowhere.json"))
    with app.app_context(), pytest.raises(FileNotFoundError, match="nowhere.json.*PORTAL_CATALOG_FILE"):
        seed_resources()
