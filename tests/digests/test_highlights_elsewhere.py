"""The digest's selection reaches other emails, a link the checker found broken reaches none, and a
checker cut off from the network takes nothing out."""
import socket
from datetime import date

from sqlalchemy import select, update

from portal.extensions import db
from portal.resources.highlights import POLICY_FIRST, digest_candidates
from portal.resources.models import LinkCheckRun, Resource
from portal.digests.tasks import start_edition
from tests.support.digests import add_subscribers, compose_whole_edition, highlighted_slugs
from tests.support.link_site import LINK_SITE_NETWORKS, serve_link_site
from tests.support.mail import outbox
from tests.support.newsletter import confirmed_subscriber
from tests.support.registration import register


def _titles_with_topics(app) -> dict[str, set[str]]:
    with app.app_context():
        return {r.title: {t.slug for t in r.topics} for r in db.session.scalars(select(Resource))}


def _listed(text: str, titles) -> list[str]:
    """Titles the plain-text highlights list shows ("- Title (Organization)")."""
    lines = [line[2:] for line in text.splitlines() if line.startswith("- ")]
    return [title for title in titles if any(line == title or line.startswith(f"{title} (") for line in lines)]


def test_a_registration_confirmation_carries_three_policy_or_regulatory_highlights(seeded, make_event):
    slug = make_event()
    register(seeded.test_client(), slug)
    message, = outbox(seeded, "registration_confirmed")
    topics = _titles_with_topics(seeded)
    shown = _listed(message.text, topics)
    assert "READING FOR THE SUMMIT" in message.text and "Reading for the summit" in message.html
    assert len(shown) == 3
    assert all(topics[title] & set(POLICY_FIRST) for title in shown)


def test_the_welcome_email_highlights_the_topics_just_chosen(seeded):
    client = seeded.test_client()
    confirmed_subscriber(seeded, client, "ada@example.org", topics=["journals"])
    welcome, = outbox(seeded, "newsletter_welcome")
    topics = _titles_with_topics(seeded)
    shown = _listed(welcome.text, topics)
    assert len(shown) == 3 and all("journals" in topics[title] for title in shown)


def test_a_broken_link_and_a_hanging_one_already_in_doubt_are_found_before_an_edition_and_left_out_of_it(
        make_app, seeded):
    app = make_app(DIGEST_CHECK_LINKS_FIRST=True, RESOURCE_LINK_TIMEOUT_SECONDS=0.5,
                   RESOURCE_LINK_ALLOW_PRIVATE=LINK_SITE_NETWORKS)
    reader, = add_subscribers(app, 1, topics=("regulatory",))
    with app.app_context():
        best = [r.slug for r in digest_candidates(["regulatory"])]
    with serve_link_site() as site, app.app_context():
        db.session.execute(update(Resource).values(url=f"{site}/ok"))
        db.session.execute(update(Resource).where(Resource.slug == best[0]).values(url=f"{site}/gone"))
        # The daily check already got no answer from it once.
        db.session.execute(update(Resource).where(Resource.slug == best[1])
                           .values(url=f"{site}/hang", link_failures=1, link_failure="timed out"))
        db.session.commit()
        edition_id = start_edition("weekly")  # beat's entry point: checks links, then composes
        db.session.commit()
        broken = {r.slug: r.link_status for r in db.session.scalars(select(Resource)) if r.link_broken}
    assert broken == {best[0]: 404, best[1]: None}
    compose_whole_edition(app, day=date.today())
    slugs = highlighted_slugs(app, edition_id, reader)
    assert slugs == best[2:2 + app.config["DIGEST_HIGHLIGHTS"]]


def _unreachable_catalog(app) -> None:
    """Every address on a loopback port nothing listens on: what a machine without a network sees."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with app.app_context():
        db.session.execute(update(Resource).values(url=f"http://127.0.0.1:{port}/"))
        db.session.commit()


def test_an_edition_started_while_the_checker_is_offline_sends_what_the_dry_run_predicted(make_app, seeded):
    app = make_app(DIGEST_CHECK_LINKS_FIRST=True, RESOURCE_LINK_TIMEOUT_SECONDS=0.5,
                   RESOURCE_LINK_ALLOW_PRIVATE=LINK_SITE_NETWORKS)
    readers = add_subscribers(app, 3, topics=("regulatory",))
    _unreachable_catalog(app)
    with app.app_context():
        best = [r.slug for r in digest_candidates(["regulatory"])][:app.config["DIGEST_HIGHLIGHTS"]]
    runner = app.test_cli_runner()
    predicted = runner.invoke(args=["send-digests", "--frequency", "weekly", "--dry-run", "--each"])
    assert predicted.exit_code == 0, predicted.output
    started = runner.invoke(args=["send-digests", "--frequency", "weekly"])  # checks links, then composes
    assert started.exit_code == 0, started.output
    edition_id = compose_whole_edition(app, day=date.today())
    assert [highlighted_slugs(app, edition_id, reader) for reader in readers] == [best] * 3
    with app.app_context():
        assert db.session.scalars(select(LinkCheckRun.offline)).all() == [True]
    sent = "".join(f"subscriber {reader}: {len(best)} highlight(s)\n" for reader in readers)
    assert sent in predicted.output


def test_the_dry_run_says_a_link_check_runs_first_and_names_the_links_in_doubt(make_app, seeded):
    app = make_app(DIGEST_CHECK_LINKS_FIRST=True)
    add_subscribers(app, 1, topics=("regulatory",))
    with app.app_context():
        doubtful = db.session.scalar(select(Resource).where(Resource.url.is_not(None)).order_by(Resource.id))
        doubtful.link_failures, doubtful.link_failure = 1, "timed out"
        slug = doubtful.slug
        db.session.commit()
    result = app.test_cli_runner().invoke(args=["send-digests", "--frequency", "weekly", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "The real run checks them first" in result.output
    assert f"In doubt (no answer on their latest check): {slug}\n" in result.output


def test_a_first_digest_does_not_repeat_what_the_welcome_email_highlighted(seeded):
    reader = confirmed_subscriber(seeded, seeded.test_client(), "ada@example.org", topics=["journals"],
                                  frequency="weekly")
    welcome, = outbox(seeded, "newsletter_welcome")
    welcomed = set(_listed(welcome.text, _titles_with_topics(seeded)))
    edition_id = compose_whole_edition(seeded, day=date.today())
    with seeded.app_context():
        titles = dict(db.session.execute(select(Resource.slug, Resource.title)).all())
        journals = [r.title for r in digest_candidates(["journals"])]
    digest = [titles[slug] for slug in highlighted_slugs(seeded, edition_id, reader)]
    assert len(welcomed) == 3 and digest
    assert not welcomed & set(digest)
    assert digest == [title for title in journals if title not in welcomed][:len(digest)]
