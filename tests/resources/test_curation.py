"""Changing the catalog: file imports (all or nothing, problems by line), feature, retire, search."""
import json
from datetime import date

from sqlalchemy import func, select, update

from portal.extensions import db
from portal.resources import curation
from portal.resources.highlights import digest_candidates
from portal.resources.models import Resource
from portal.resources.service import list_resources
from tests.support.web import page_text

GOOD_CSV = (
    "slug,title,organization,kind,year,url,summary,topics,featured,added\r\n"
    "new-vector-core,Vector Core Directory,Example Institute,program,2025,https://vectors.example.org/,"
    "\"A directory of academic vector cores, by region.\",research-funding;clinical-trials,yes,2026-11-01\r\n"
    "journal-gene-therapy,Gene Therapy,,journal,,https://www.nature.com/gt/,A journal of the field.,journals,,\r\n"
)


def _count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Resource))


def test_a_csv_file_adds_and_updates_entries(seeded, tmp_path):
    path = tmp_path / "more.csv"
    path.write_text(GOOD_CSV, encoding="utf-8")
    before = _count(seeded)
    result = seeded.test_cli_runner().invoke(args=["import-resources", str(path)])
    assert result.exit_code == 0, result.output
    assert "1 added, 1 updated" in result.output
    assert _count(seeded) == before + 1
    with seeded.app_context():
        added = db.session.scalar(select(Resource).where(Resource.slug == "new-vector-core"))
        assert added.featured and str(added.added_on) == "2026-11-01"
        assert [t.slug for t in added.topics] == ["research-funding", "clinical-trials"]
        assert digest_candidates()[0].slug == "new-vector-core"  # featured comes first


def test_one_bad_row_refuses_the_whole_file_and_names_its_line(seeded, tmp_path):
    entries = [
        {"slug": "fine-entry", "title": "Fine", "kind": "program", "summary": "Good.", "topics": ["policy"]},
        {"slug": "Bad Slug", "title": "", "kind": "program", "summary": "x", "url": "ftp://nowhere",
         "topics": ["no-such-topic"], "year": "soon"},
    ]
    text = json.dumps(entries, indent=2)
    path = tmp_path / "entries.json"
    path.write_text(text, encoding="utf-8")
    bad_line = text.count("\n", 0, text.rindex("{", 0, text.index('"Bad Slug"'))) + 1
    before = _count(seeded)
    result = seeded.test_cli_runner().invoke(args=["import-resources", str(path)])
    assert result.exit_code != 0
    for expected in (f"entries.json line {bad_line}: slug:", f"line {bad_line}: title: is missing",
                     f"line {bad_line}: url:", f"line {bad_line}: topics: unknown", f"line {bad_line}: year:",
                     "nothing imported"):
        assert expected in result.output, expected
    assert _count(seeded) == before


def test_a_csv_with_an_unknown_column_is_refused(seeded, tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("slug,title,kind,summary,password\r\na,b,c,d,e\r\n", encoding="utf-8")
    result = seeded.test_cli_runner().invoke(args=["import-resources", str(path)])
    assert result.exit_code != 0 and "unknown column(s) password" in result.output


def test_retired_entries_leave_the_page_and_digests_but_stay(seeded):
    with seeded.app_context():
        resource = db.session.scalar(select(Resource).where(Resource.slug == "ggact"))
        curation.retire(resource.id)
        db.session.commit()
        assert "ggact" not in {r.slug for r in list_resources()}
        assert "ggact" not in {r.slug for r in digest_candidates()}
        assert db.session.get(Resource, resource.id) is not None
    assert 'id="ggact"' not in seeded.test_client().get("/resources").get_data(as_text=True)


def test_featuring_puts_an_entry_first(seeded):
    with seeded.app_context():
        resource = db.session.scalar(select(Resource).where(Resource.slug == "nih-nextrac"))
        curation.set_featured(resource.id, True)
        db.session.commit()
        assert digest_candidates(["regulatory", "policy", "research-funding"])[0].slug == "nih-nextrac"


def test_search_finds_words_in_titles_organizations_and_summaries(seeded):
    client = seeded.test_client()
    found = page_text(client.get("/resources?q=clinicaltrials"))
    assert "ClinicalTrials.gov" in found
    text = page_text(client.get("/resources?q=potency+tests"))
    assert "Showing 1 resource for" in text
    nothing = client.get("/resources?q=%25_%00zzz")
    assert nothing.status_code == 200 and "No resource matches these words" in page_text(nothing)


def test_the_seed_keeps_the_added_date(seeded):
    from portal.resources.service import seed_resources

    with seeded.app_context():
        db.session.execute(update(Resource).values(added_on=date(2026, 1, 2)))
        db.session.commit()
        seed_resources()
        db.session.commit()
        assert {str(d) for d in db.session.scalars(select(Resource.added_on))} == {"2026-01-02"}


def test_an_import_with_an_address_that_is_not_public_is_refused_and_names_its_line(seeded, tmp_path):
    path = tmp_path / "internal.csv"
    path.write_text(GOOD_CSV + "metadata,Cloud metadata,,program,,http://169.254.169.254/latest/,Inside.,policy,,\r\n"
                    + "cache,Our cache,,program,,http://localhost:6379/,Inside.,policy,,\r\n", encoding="utf-8")
    before = _count(seeded)
    result = seeded.test_cli_runner().invoke(args=["import-resources", str(path)])
    assert result.exit_code != 0
    for line in (4, 5):
        assert f"internal.csv line {line}: url: must be an address on the public internet" in result.output, line
    assert "nothing imported" in result.output and _count(seeded) == before
