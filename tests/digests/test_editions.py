"""Digest editions composed in this process: who gets what, never twice, and what the email says."""
from datetime import date, timedelta

import pytest
from sqlalchemy import select, update

from portal.config import ConfigError, load_config
from portal.digests import service
from portal.digests.models import DigestDelivery
from portal.digests.tasks import compose_digest_batch
from portal.extensions import db
from portal.mail.models import OutgoingEmail
from portal.newsletter.models import Subscriber
from portal.resources.highlights import digest_candidates
from portal.resources.models import Resource
from tests.support.broker import take_published
from tests.support.digests import add_subscribers, compose_whole_edition, edition_counts, editions, highlighted_slugs
from tests.support.mail import outbox
from tests.support.newsletter import links_in, local_path

MONDAY = date(2026, 11, 23)
NEXT_MONDAY = MONDAY + timedelta(days=7)


def _topics_of(app, slugs: list[str]) -> dict[str, set[str]]:
    with app.app_context():
        rows = db.session.scalars(select(Resource).where(Resource.slug.in_(slugs)))
        return {r.slug: {t.slug for t in r.topics} for r in rows}


def test_a_digest_carries_only_resources_on_the_subscribers_topics(seeded):
    journals_reader, = add_subscribers(seeded, 1, topics=("journals",))
    trials_reader, = add_subscribers(seeded, 1, topics=("clinical-trials", "community"), start=1)
    edition_id = compose_whole_edition(seeded, day=MONDAY)
    for reader, wanted in ((journals_reader, {"journals"}), (trials_reader, {"clinical-trials", "community"})):
        slugs = highlighted_slugs(seeded, edition_id, reader)
        assert slugs
        assert all(topics & wanted for topics in _topics_of(seeded, slugs).values())


def test_featured_entries_come_first_then_the_newest(seeded):
    with seeded.app_context():
        regulatory = [r.slug for r in digest_candidates(["regulatory"])]
        db.session.execute(update(Resource).where(Resource.slug == regulatory[-1]).values(featured=True))
        db.session.execute(update(Resource).where(Resource.slug == regulatory[-2])
                           .values(added_on=date(2030, 1, 1)))
        db.session.commit()
    reader, = add_subscribers(seeded, 1, topics=("regulatory",))
    slugs = highlighted_slugs(seeded, compose_whole_edition(seeded, day=MONDAY), reader)
    assert slugs[:2] == [regulatory[-1], regulatory[-2]]


def test_a_later_edition_never_repeats_what_a_subscriber_already_got(seeded):
    reader, = add_subscribers(seeded, 1, topics=("regulatory",))
    first = highlighted_slugs(seeded, compose_whole_edition(seeded, day=MONDAY), reader)
    second = highlighted_slugs(seeded, compose_whole_edition(seeded, day=NEXT_MONDAY), reader)
    assert len(first) == len(second) == seeded.config["DIGEST_HIGHLIGHTS"]
    assert not set(first) & set(second)


def test_a_subscriber_with_nothing_new_is_skipped_and_counted(seeded):
    reader, = add_subscribers(seeded, 1, topics=("journals",))
    with seeded.app_context():
        journals = len(digest_candidates(["journals"]))
    weeks = -(-journals // seeded.config["DIGEST_HIGHLIGHTS"])  # enough editions to run out
    for week in range(weeks):
        compose_whole_edition(seeded, day=MONDAY + timedelta(days=7 * week))
    last = compose_whole_edition(seeded, day=MONDAY + timedelta(days=7 * weeks))
    assert highlighted_slugs(seeded, last, reader) == []
    counts = edition_counts(seeded, last)
    assert (counts["planned"], counts["skipped"]) == (0, 1)
    assert counts["status"] == "done"


def test_paused_unsubscribed_pending_erased_and_other_frequency_subscribers_get_nothing(seeded):
    reader, = add_subscribers(seeded, 1)
    add_subscribers(seeded, 1, start=1, paused_until=date(2099, 1, 1))
    add_subscribers(seeded, 1, start=2, frequency="monthly")
    unsubscribed, pending, erased = add_subscribers(seeded, 3, start=3)
    with seeded.app_context():
        db.session.execute(update(Subscriber).where(Subscriber.id == unsubscribed).values(status="unsubscribed"))
        db.session.execute(update(Subscriber).where(Subscriber.id == pending).values(status="pending"))
        db.session.execute(update(Subscriber).where(Subscriber.id == erased)
                           .values(status="erased", email=None, email_key=None))
        db.session.commit()
    edition_id = compose_whole_edition(seeded, day=date.today())
    assert [m.to for m in outbox(seeded, "digest")] == ["person0@example.org"]
    assert edition_counts(seeded, edition_id)["planned"] == 1
    with seeded.app_context():
        assert db.session.scalars(select(DigestDelivery.subscriber_id)).all() == [reader]


def test_a_pause_that_ended_does_not_hold_a_subscriber_back(seeded):
    add_subscribers(seeded, 1, paused_until=date.today())
    compose_whole_edition(seeded, day=date.today())
    assert [m.to for m in outbox(seeded, "digest")] == ["person0@example.org"]


def test_starting_a_period_again_finds_its_edition_and_sends_nothing_twice(seeded):
    add_subscribers(seeded, 3)
    first = compose_whole_edition(seeded, day=MONDAY)
    again = compose_whole_edition(seeded, day=MONDAY + timedelta(days=3))  # same week
    assert again == first
    assert len(outbox(seeded, "digest")) == 3
    assert len(editions(seeded)) == 1


def test_batches_resume_after_the_checkpoint(make_app, seeded):
    app = make_app(DIGEST_BATCH_SIZE=2)
    ids = add_subscribers(app, 5)
    with app.app_context():
        edition, _ = service.start_edition("weekly", MONDAY)
        db.session.commit()
        first = service.compose_next_batch(edition.id)
        db.session.commit()
        assert (first.queued, first.finished) == (2, False)
        assert service.get_edition(edition.id).last_subscriber_id == ids[1]
        # A batch that dies before its commit leaves nothing behind and is done again.
        service.compose_next_batch(edition.id)
        db.session.rollback()
        while not service.compose_next_batch(edition.id).finished:
            db.session.commit()
        db.session.commit()
    assert sorted(m.to for m in outbox(app, "digest")) == sorted(f"person{n}@example.org" for n in range(5))


def test_a_resource_edited_between_batches_shows_as_edited_in_the_later_batch(make_app, seeded):
    # Batches of an edition share their rendered variants: the edit must make a new one.
    app = make_app(DIGEST_BATCH_SIZE=1)
    add_subscribers(app, 2)
    with app.app_context():
        edition, _ = service.start_edition("weekly", MONDAY)
        db.session.commit()
        service.compose_next_batch(edition.id)
        db.session.commit()
        first_title = digest_candidates(["regulatory"])[0].title
        db.session.execute(update(Resource).where(Resource.title == first_title)
                           .values(title="Renamed guidance for this test"))
        db.session.commit()
        while not service.compose_next_batch(edition.id).finished:
            db.session.commit()
        db.session.commit()
    earlier, later = sorted(outbox(app, "digest"), key=lambda m: m.to)
    assert first_title in earlier.text and "Renamed guidance for this test" not in earlier.text
    assert "Renamed guidance for this test" in later.text and "Renamed guidance for this test" in later.html
    assert first_title not in later.text


def test_the_digest_email_has_list_headers_a_preference_link_and_a_web_view(seeded):
    add_subscribers(seeded, 1, first_name="Ada <Lovelace>")
    edition_id = compose_whole_edition(seeded, day=MONDAY)
    message, = outbox(seeded, "digest")
    assert message.subject.startswith("Weekly digest, week of 23 November 2026: 5 resources")
    assert "Dear Ada &lt;Lovelace&gt;," in message.html and "Dear Ada <Lovelace>," in message.text
    links = links_in(message.text)
    assert "preferences" in links and "unsubscribe" in links
    assert f"/newsletter/archive/{edition_id}" in message.text and f"/newsletter/archive/{edition_id}" in message.html
    assert "DIGESTMARK" not in message.html + message.text
    assert 'style="' in message.html  # CSS inlined for mail clients
    with seeded.app_context():
        from portal.mail.models import OutgoingEmail

        row = db.session.scalar(select(OutgoingEmail).where(OutgoingEmail.name == "digest"))
        assert links["unsubscribe"] in row.headers["List-Unsubscribe"]
        assert row.headers["List-Id"] == "Summit Portal newsletter <newsletter.portal.localhost>"
    client = seeded.test_client()
    assert client.get(local_path(links["preferences"])).status_code == 200


def test_every_subscriber_gets_their_own_links(seeded):
    add_subscribers(seeded, 2)
    compose_whole_edition(seeded, day=MONDAY)
    first, second = outbox(seeded, "digest")
    assert links_in(first.text)["unsubscribe"] != links_in(second.text)["unsubscribe"]
    assert first.html.replace(links_in(first.text)["unsubscribe"], "") != first.html


def test_the_upcoming_event_block_shows_seats_left_and_a_register_link(seeded, make_event):
    slug = make_event(day_capacity=40)
    add_subscribers(seeded, 1)
    add_subscribers(seeded, 1, start=1, wants_events=False)
    compose_whole_edition(seeded, day=MONDAY)
    with_event, without = sorted(outbox(seeded, "digest"), key=lambda m: m.to)
    assert "UPCOMING EVENT" in with_event.text and "40 seats left" in with_event.text
    assert f"/events/{slug}" in with_event.html
    assert "UPCOMING EVENT" not in without.text


def test_unsubscribing_after_the_digest_was_queued_withholds_it(seeded):
    from portal.mail.models import EmailStatus, OutgoingEmail
    from portal.mail.tasks import deliver_emails

    reader, = add_subscribers(seeded, 1)
    edition_id = compose_whole_edition(seeded, day=MONDAY)
    with seeded.app_context():
        db.session.execute(update(Subscriber).where(Subscriber.id == reader).values(status="unsubscribed"))
        db.session.commit()
        email_id = db.session.scalar(select(OutgoingEmail.id).where(OutgoingEmail.name == "digest"))
        deliver_emails([email_id])
        assert db.session.get(OutgoingEmail, email_id).status == EmailStatus.WITHHELD.value
    assert edition_counts(seeded, edition_id) | {} == {
        "status": "done", "planned": 1, "skipped": 0, "sent": 0, "failed": 0, "withheld": 1}


def test_the_archive_shows_editions_that_went_out_without_personal_data(seeded):
    add_subscribers(seeded, 1, first_name="Grace")
    edition_id = compose_whole_edition(seeded, day=MONDAY)
    message, = outbox(seeded, "digest")
    client = seeded.test_client()
    index = client.get("/newsletter/archive/").get_data(as_text=True)
    assert f"/newsletter/archive/{edition_id}" in index and "Weekly digest, week of 23 November 2026" in index
    page = client.get(f"/newsletter/archive/{edition_id}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    for slug_title in [line for line in message.text.splitlines() if line[:3] in {"1. ", "2. "}]:
        assert slug_title[3:].split(" (")[0].replace("&", "&amp;") in html
    assert "Grace" not in html and "person0@example.org" not in html and "preferences/" not in html


def test_an_edition_still_composing_or_unknown_is_not_in_the_archive(seeded):
    with seeded.app_context():
        edition, _ = service.start_edition("weekly", MONDAY)
        db.session.commit()
        edition_id = edition.id
    client = seeded.test_client()
    assert client.get(f"/newsletter/archive/{edition_id}").status_code == 404
    assert client.get("/newsletter/archive/999999").status_code == 404
    assert client.get("/newsletter/archive/nope").status_code == 404
    assert "No digest has gone out yet" in client.get("/newsletter/archive/").get_data(as_text=True)


def test_send_digests_dry_run_counts_and_writes_nothing(seeded):
    add_subscribers(seeded, 3)
    add_subscribers(seeded, 1, start=3, frequency="monthly")
    result = seeded.test_cli_runner().invoke(args=["send-digests", "--frequency", "weekly", "--dry-run", "--each"])
    assert result.exit_code == 0, result.output
    assert "3 would get a digest, 0 skipped" in result.output
    assert "3 digest(s) with 5 highlight(s)" in result.output
    assert result.output.count("highlight(s)\n") == 4  # the summary line and one per subscriber
    assert editions(seeded) == [] and outbox(seeded) == []


def test_send_digests_starts_the_edition_once(seeded):
    add_subscribers(seeded, 2)
    runner = seeded.test_cli_runner()
    first = runner.invoke(args=["send-digests", "--frequency", "weekly"])
    assert first.exit_code == 0, first.output
    assert "is composing" in first.output
    second = runner.invoke(args=["send-digests", "--frequency", "weekly"])
    assert second.exit_code == 0 and len(editions(seeded)) == 1
    bad = runner.invoke(args=["send-digests", "--frequency", "daily"])
    assert bad.exit_code == 2 and "daily" in bad.output


def test_preview_shows_a_subscribers_next_digest_without_queueing_it(seeded):
    reader, = add_subscribers(seeded, 1, first_name="Ada")
    with seeded.app_context():
        preview = service.preview_digest(reader)
        assert len(preview.highlights) == seeded.config["DIGEST_HIGHLIGHTS"]
        assert "Dear Ada," in preview.text and "DIGESTMARK" not in preview.html
    assert outbox(seeded) == [] and editions(seeded) == []
    compose_whole_edition(seeded, day=date.today())
    with seeded.app_context():
        later = service.preview_digest(reader)
        assert not {h.id for h in later.highlights} & {h.id for h in preview.highlights}


def test_a_stalled_edition_is_noticed(seeded):
    add_subscribers(seeded, 1)
    with seeded.app_context():
        edition, _ = service.start_edition("weekly", MONDAY)
        db.session.commit()
        assert not service.is_stalled(edition)
        edition.progressed_at -= timedelta(seconds=seeded.config["DIGEST_STALL_SECONDS"] + 1)
        assert service.is_stalled(edition)


def test_the_schedules_come_from_config_and_a_bad_one_is_refused(make_app, tmp_path):
    app = make_app()
    beat = app.extensions["celery"].conf.beat_schedule
    assert beat["weekly-digest"]["args"] == ["weekly"] and beat["monthly-digest"]["args"] == ["monthly"]
    assert beat["weekly-digest"]["schedule"].day_of_week == {1}
    with pytest.raises(ConfigError, match="DIGEST_WEEKLY_CRON"):
        load_config(str(tmp_path), {"DIGEST_WEEKLY_CRON": "every monday"})
    with pytest.raises(ConfigError, match="DIGEST_MONTHLY_CRON"):
        load_config(str(tmp_path), {"DIGEST_MONTHLY_CRON": "0 99 1 * *"})


def test_a_compose_task_queues_its_batch_in_the_bulk_lane_and_hands_on_the_next_batch(make_app, seeded):
    app = make_app(DIGEST_BATCH_SIZE=3)
    add_subscribers(app, 5)
    take_published(app)  # what setting up the subscribers queued
    with app.app_context():
        edition, _ = service.start_edition("weekly", MONDAY)
        db.session.commit()
        edition_id = edition.id
        outcome = compose_digest_batch(edition_id)
        rows = db.session.execute(select(OutgoingEmail.id, OutgoingEmail.lane, OutgoingEmail.status)).all()
    assert outcome["queued"] == 3
    assert {(lane, status) for _, lane, status in rows} == {("bulk", "queued")}
    # Composing sends nothing itself: the bulk lane's workers deliver at the sending rate.
    assert sorted(take_published(app)) == [
        ("portal.deliver_bulk_emails", (sorted(email_id for email_id, _, _ in rows),)),
        ("portal.digests.compose_batch", (edition_id,)),
    ]
