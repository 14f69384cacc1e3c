"""The link checker against a local HTTP server: 200, 404, a redirect, HEAD refused, and a hang."""
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import select, update

from portal.extensions import db
from portal.resources.linkcheck import check_catalog_links
from portal.resources.models import Resource
from portal.resources.service import list_resources


class _Handler(BaseHTTPRequestHandler):
    seen_agents: list[str] = []

    def _answer(self, with_body: bool):
        _Handler.seen_agents.append(self.headers.get("User-Agent", ""))
        if self.path == "/ok":
            self.send_response(200)
        elif self.path == "/moved":
            self.send_response(301)
            self.send_header("Location", "/ok")
        elif self.path == "/no-head" and not with_body:
            self.send_response(405)
        elif self.path == "/no-head":
            self.send_response(200)
        elif self.path == "/hang":
            time.sleep(3)
            self.send_response(200)
        else:
            self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_HEAD(self):  # noqa: N802
        self._answer(with_body=False)

    def do_GET(self):  # noqa: N802
        self._answer(with_body=True)

    def log_message(self, *args):
        pass


@pytest.fixture
def site():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


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
        assert all(agent.startswith("SummitPortal-LinkChecker/") for agent in _Handler.seen_agents)
        from portal.resources.highlights import digest_candidates

        candidates = {r.slug for r in digest_candidates()}
        assert "ggact" not in candidates and hanging not in candidates and "nhlbi-gtrp" in candidates
        assert "ggact" in {r.slug for r in list_resources()}  # the public page still lists it
