"""The link checker against a local HTTP server: 200, 404, a redirect, HEAD refused, and a hang."""
import pytest
from sqlalchemy import select, update

from portal.extensions import db
from portal.resources.linkcheck import check_catalog_links
from portal.resources.models import Resource
from portal.resources.service import list_resources
from tests.support.link_site import LinkSiteHandler, serve_link_site


@pytest.fixture
def site():
    with serve_link_site() as url:
        yield url


def test_broken_and_hanging_addresses_are_marked_and_left_out(make_app, seeded, site):
    app = make_app(RESOURCE_LINK_TIMEOUT_SECONDS=0.5)
    paths = {"nhlbi-gtrp": "/ok", "ggact": "/gone", "clinicaltrials-gov": "/moved", "acgt": "/no-head"}
    with app.app_context():
        hanging = db.session.scalar(select(Resource.slug).where(Resource.slug.not_in(paths), Resource.url.is_not(None)))
        paths[hanging] = "/hang"
        for slug, path in paths.items():
            db.session.execute(update(Resource).where(Resource.slug == slug).values(url=site + path))
        # Everything else is retired so that nothing leaves the machine.
        db.session.execute(update(Resource).where(Resource.slug.not_in(paths)).values(retired_at=db.func.now()))
        db.session.commit()
        counts = check_catalog_links()
        db.session.commit()
        rows = {r.slug: r for r in db.session.scalars(select(Resource).where(Resource.slug.in_(paths)))}
        assert counts == {"checked": 5, "broken": 2}
        assert (rows["nhlbi-gtrp"].link_status, rows["nhlbi-gtrp"].link_broken) == (200, False)
        assert (rows["clinicaltrials-gov"].link_status, rows["clinicaltrials-gov"].link_broken) == (200, False)
        assert rows["acgt"].link_status == 200
        assert rows["ggact"].link_status == 404 and rows["ggact"].link_broken
        assert rows[hanging].link_status is None and rows[hanging].link_error == "timed out"
        assert all(agent.startswith("SummitPortal-LinkChecker/") for agent in LinkSiteHandler.seen_agents)
        from portal.resources.highlights import digest_candidates

        candidates = {r.slug for r in digest_candidates()}
        assert "ggact" not in candidates and hanging not in candidates and "nhlbi-gtrp" in candidates
        assert "ggact" in {r.slug for r in list_resources()}  # the public page still lists it
