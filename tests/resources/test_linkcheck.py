"""The link checker against a local HTTP server: 200, 404, a redirect, HEAD refused, and a hang;
no answer counted until it is definite, a checker cut off from the network changing nothing;
and never against an address that is not public, however it is reached."""
import logging
import socket
from datetime import datetime

import pytest
from sqlalchemy import select, update

from portal.extensions import db
from portal.resources.highlights import digest_candidates
from portal.resources.linkcheck import check_catalog_links
from portal.resources.models import LinkCheckRun, Resource
from portal.resources.service import list_resources
from tests.support.admin import add_account, log_in
from tests.support.link_site import LINK_SITE_NETWORKS, CountingListener, LinkSiteHandler, serve_link_site
from tests.support.web import page_text


@pytest.fixture
def site():
    with serve_link_site() as url:
        yield url


def test_an_http_error_is_left_out_at_once_and_a_hang_only_counts_as_a_failure(make_app, seeded, site):
    app = make_app(RESOURCE_LINK_TIMEOUT_SECONDS=0.5, RESOURCE_LINK_ALLOW_PRIVATE=LINK_SITE_NETWORKS)
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
        candidates = {r.slug for r in digest_candidates()}
        assert "ggact" not in candidates and hanging in candidates and "nhlbi-gtrp" in candidates
        assert counts == {"checked": 5, "broken": 1, "unreachable": 1, "offline": False}
        assert (rows["nhlbi-gtrp"].link_status, rows["nhlbi-gtrp"].link_broken) == (200, False)
        assert (rows["clinicaltrials-gov"].link_status, rows["clinicaltrials-gov"].link_broken) == (200, False)
        assert rows["acgt"].link_status == 200
        assert rows["ggact"].link_status == 404 and rows["ggact"].link_broken
        hung = rows[hanging]
        assert (hung.link_checked_at, hung.link_broken, hung.link_failures, hung.link_failure) == \
            (None, False, 1, "timed out")
        assert all(agent.startswith("SummitPortal-LinkChecker/") for agent in LinkSiteHandler.seen_agents)
        assert "ggact" in {r.slug for r in list_resources()}  # the public page still lists it


def _closed_port() -> int:
    """A loopback port nothing listens on: connecting to it is refused at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _point_at(app, urls: dict[str, str]) -> None:
    """These entries at these addresses, every other one retired."""
    with app.app_context():
        for slug, url in urls.items():
            db.session.execute(update(Resource).where(Resource.slug == slug).values(url=url))
        db.session.execute(update(Resource).where(Resource.slug.not_in(urls)).values(retired_at=db.func.now()))
        db.session.commit()


def _check(app) -> dict[str, Resource]:
    with app.app_context():
        check_catalog_links()
        db.session.commit()
        rows = {r.slug: r for r in db.session.scalars(select(Resource).where(Resource.retired_at.is_(None)))}
        rows["candidates"] = {r.slug for r in digest_candidates()}
        db.session.expunge_all()
        return rows


def test_a_link_without_an_answer_is_kept_once_and_left_out_when_it_fails_again_while_others_answer(
        make_app, seeded, site):
    app = make_app(RESOURCE_LINK_TIMEOUT_SECONDS=0.5, RESOURCE_LINK_ALLOW_PRIVATE=LINK_SITE_NETWORKS)
    slugs = _slugs(app, 5)
    dead = slugs[0]
    _point_at(app, {slug: f"{site}/ok" for slug in slugs} | {dead: f"http://127.0.0.1:{_closed_port()}/"})
    first = _check(app)
    assert dead in first["candidates"] and not first[dead].link_broken
    assert first[dead].link_failures == 1 and first[dead].link_failure
    second = _check(app)
    assert dead not in second["candidates"] and set(slugs[1:]) <= second["candidates"]
    assert (second[dead].link_broken, second[dead].link_status, second[dead].link_failures) == (True, None, 2)


def test_a_check_that_cannot_reach_the_network_changes_no_link_and_says_so(make_app, seeded, caplog):
    app = make_app(RESOURCE_LINK_TIMEOUT_SECONDS=0.5, RESOURCE_LINK_ALLOW_PRIVATE=LINK_SITE_NETWORKS)
    slugs = _slugs(app, 5)
    _point_at(app, {slug: f"http://127.0.0.1:{_closed_port()}/" for slug in slugs})
    with app.app_context():
        earlier = datetime(2026, 12, 1, 3, 0)
        db.session.execute(update(Resource).values(link_checked_at=earlier, link_status=200))
        db.session.execute(update(Resource).where(Resource.slug == slugs[0]).values(link_status=404))
        db.session.execute(update(Resource).where(Resource.slug == slugs[1])
                           .values(link_failures=1, link_failure="timed out"))
        db.session.commit()
    with caplog.at_level(logging.WARNING, logger="portal.resources.linkcheck"):
        rows = _check(app)
    assert rows["candidates"] == set(slugs[1:])
    states = {slug: (rows[slug].link_checked_at, rows[slug].link_status, rows[slug].link_failures) for slug in slugs}
    assert states == {slugs[0]: (earlier, 404, 0), slugs[1]: (earlier, 200, 1),
                      **{slug: (earlier, 200, 0) for slug in slugs[2:]}}
    assert "the network looks unreachable" in caplog.text
    with app.app_context():
        run = db.session.scalar(select(LinkCheckRun))
        assert (run.checked, run.unreachable, run.offline) == (5, 5, True)


def test_the_admin_resources_page_says_the_last_check_could_not_reach_the_network(make_app, seeded):
    app = make_app(RESOURCE_LINK_TIMEOUT_SECONDS=0.5, RESOURCE_LINK_ALLOW_PRIVATE=LINK_SITE_NETWORKS)
    _point_at(app, {slug: f"http://127.0.0.1:{_closed_port()}/" for slug in _slugs(app, 3)})
    _check(app)
    add_account(app)
    client = app.test_client()
    assert log_in(client).status_code == 303
    text = page_text(client.get("/admin/resources"))
    assert "The last link check could not reach the network at" in text
    assert "links keep their previous state" in text


@pytest.fixture
def listener():
    """A loopback listener of this test's own: whatever the checker does, it must receive nothing."""
    listening = CountingListener("127.0.0.2")
    yield listening
    listening.stop()


def _check_only(app, urls: dict[str, str]) -> dict[str, Resource]:
    """Point these entries at these addresses (as the database may hold them), retire the rest, check."""
    with app.app_context():
        for slug, url in urls.items():
            db.session.execute(update(Resource).where(Resource.slug == slug).values(url=url))
        db.session.execute(update(Resource).where(Resource.slug.not_in(urls)).values(retired_at=db.func.now()))
        db.session.commit()
        check_catalog_links()
        db.session.commit()
        rows = {r.slug: r for r in db.session.scalars(select(Resource).where(Resource.slug.in_(urls)))}
        db.session.expunge_all()
        return rows


def _slugs(app, count: int) -> list[str]:
    with app.app_context():
        return db.session.scalars(select(Resource.slug).where(Resource.url.is_not(None)).limit(count)).all()


def test_addresses_that_are_not_public_are_refused_without_a_connection(make_app, seeded, listener):
    app = make_app(RESOURCE_LINK_TIMEOUT_SECONDS=0.5)
    port = listener.port
    addresses = [f"http://127.0.0.2:{port}/", f"https://127.0.0.2:{port}/", f"http://[::ffff:127.0.0.2]:{port}/",
                 f"http://2130706434:{port}/", "http://localhost:6379/", "http://169.254.169.254/latest/",
                 "http://10.0.0.1/", "http://[::1]:5432/", "http://[fe80::1]/", "http://0.0.0.0/", "http://224.0.0.1/"]
    rows = _check_only(app, dict(zip(_slugs(app, len(addresses)), addresses)))
    assert listener.connections == 0
    assert all(row.link_status is None and row.link_error.startswith("refused: ") for row in rows.values()), \
        {row.url: row.link_error for row in rows.values()}


def test_a_redirect_into_an_address_that_is_not_public_is_refused(make_app, seeded, site, listener, monkeypatch):
    app = make_app(RESOURCE_LINK_TIMEOUT_SECONDS=0.5, RESOURCE_LINK_ALLOW_PRIVATE=LINK_SITE_NETWORKS)
    monkeypatch.setattr(LinkSiteHandler, "elsewhere", f"http://127.0.0.2:{listener.port}/")
    [slug] = _slugs(app, 1)
    row = _check_only(app, {slug: f"{site}/elsewhere"})[slug]
    assert listener.connections == 0
    assert (row.link_status, row.link_error) == (None, "refused: 127.0.0.2 is not a public address")


def test_redirects_are_followed_at_most_five_times(make_app, seeded, site):
    app = make_app(RESOURCE_LINK_TIMEOUT_SECONDS=0.5, RESOURCE_LINK_ALLOW_PRIVATE=LINK_SITE_NETWORKS)
    [slug] = _slugs(app, 1)
    row = _check_only(app, {slug: f"{site}/loop"})[slug]
    assert (row.link_status, row.link_error, row.link_broken) == (None, "more than 5 redirects", True)


def test_the_checker_connects_to_the_address_it_checked_not_to_a_second_lookup(make_app, seeded, site, monkeypatch):
    """DNS rebinding: the name answers with an allowed address first, then with a private one."""
    app = make_app(RESOURCE_LINK_TIMEOUT_SECONDS=0.5, RESOURCE_LINK_ALLOW_PRIVATE=LINK_SITE_NETWORKS)
    site_port = int(site.rsplit(":", 1)[1])
    rebound = CountingListener("127.0.0.2", site_port)  # the same port, on the address the name turns into
    real_getaddrinfo = socket.getaddrinfo
    lookups = []

    def rebinding(host, port, *args, **kwargs):
        if host != "rebinding.example":
            return real_getaddrinfo(host, port, *args, **kwargs)
        lookups.append(host)
        return real_getaddrinfo("127.0.0.1" if len(lookups) == 1 else "127.0.0.2", port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    [slug] = _slugs(app, 1)
    try:
        # HEAD is refused there (405), so a GET follows: a second lookup, which must be checked again.
        row = _check_only(app, {slug: f"http://rebinding.example:{site_port}/no-head"})[slug]
    finally:
        rebound.stop()
    assert rebound.connections == 0
    assert (row.link_status, row.link_error) == (None, "refused: rebinding.example (127.0.0.2) is not a public address")
    assert lookups == ["rebinding.example", "rebinding.example"]
