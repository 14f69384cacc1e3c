"""The digest's selection reaches other emails, and a link the checker found broken reaches none."""
from datetime import date

from sqlalchemy import select, update

from portal.extensions import db
from portal.resources.highlights import POLICY_FIRST, digest_candidates
from portal.resources.models import Resource
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


def test_broken_and_hanging_links_are_found_before_an_edition_and_left_out_of_it(make_app, seeded):
    app = make_app(DIGEST_CHECK_LINKS_FIRST=True, RESOURCE_LINK_TIMEOUT_SECONDS=0.5,
                   RESOURCE_LINK_ALLOW_PRIVATE=LINK_SITE_NETWORKS)
    reader, = add_subscribers(app, 1, topics=("regulatory",))
    with app.app_context():
        best = [r.slug for r in digest_candidates(["regulatory"])]
    with serve_link_site() as site, app.app_context():
        db.session.execute(update(Resource).values(url=f"{site}/ok"))
        db.session.execute(update(Resource).where(Resource.slug == best[0]).values(url=f"{site}/gone"))
        db.session.execute(update(Resource).where(Resource.slug == best[1]).values(url=f"{site}/hang"))
        db.session.commit()
        edition_id = start_edition("weekly")  # beat's entry point: checks links, then composes
        db.session.commit()
        broken = {r.slug: r.link_status for r in db.session.scalars(select(Resource)) if r.link_broken}
    assert broken == {best[0]: 404, best[1]: None}
    compose_whole_edition(app, day=date.today())
    slugs = highlighted_slugs(app, edition_id, reader)
    assert slugs == best[2:2 + app.config["DIGEST_HIGHLIGHTS"]]


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
