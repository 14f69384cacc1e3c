"""An edition through a real worker and a real SMTP server: everyone once, again nobody, and a kill survived."""
import os
import signal
from collections import Counter
from datetime import date, timedelta

from sqlalchemy import select

from portal.celery_app import publish, publish_committed_tasks
from portal.digests import service
from portal.digests.models import DigestDelivery
from portal.digests.tasks import compose_digest_batch, start_edition
from portal.extensions import db
from portal.resources.highlights import digest_candidates
from tests.support.digests import add_subscribers, edition_counts
from tests.support.mail import GENEROUS, wait_for_more_sweeps
from tests.support.smtp import SlowSMTPServer
from tests.support.wait import wait_until
from tests.support.worker import start_beat, start_worker

READERS = 500
SATED = 20  # readers who already had every journal: skipped


def _start_edition(app) -> int:
    with app.app_context():
        edition_id = start_edition("weekly")  # as beat does; the worker composes and sends
        db.session.commit()
        publish_committed_tasks()
        return edition_id


def _give_every_journal_already(app, subscriber_ids: list[int]) -> None:
    with app.app_context():
        journals = [r.id for r in digest_candidates(["journals"])]
        old, _ = service.start_edition("weekly", date.today() - timedelta(days=70))
        db.session.flush()
        db.session.add_all(DigestDelivery(edition_id=old.id, subscriber_id=s, resource_ids=journals) for s in subscriber_ids)
        old.status = "done"
        db.session.commit()


def _planned(app, edition_id: int) -> int:
    def composed():
        counts = edition_counts(app, edition_id)
        return counts if counts["status"] != "composing" else None

    return wait_until(composed, timeout=GENEROUS, interval=0.2, message="edition composed")["planned"]


def test_a_real_worker_sends_an_edition_to_every_reader_once_and_a_second_run_sends_nothing(
    seeded, smtp_env, smtp_server, celery_worker, celery_beat
):
    add_subscribers(seeded, READERS - SATED, topics=("regulatory", "policy"))
    sated = add_subscribers(seeded, SATED, topics=("journals",), start=READERS)
    _give_every_journal_already(seeded, sated)

    edition_id = _start_edition(seeded)
    planned = _planned(seeded, edition_id)
    assert planned == READERS - SATED
    smtp_server.wait_for(planned, timeout=GENEROUS)
    wait_until(lambda: edition_counts(seeded, edition_id)["status"] == "done", timeout=GENEROUS, interval=0.2,
               message="edition done")

    # Again: beat's start finds the edition, and a redelivered batch task finds the checkpoint.
    assert _start_edition(seeded) == edition_id
    with seeded.app_context():
        publish(compose_digest_batch, edition_id)
    wait_for_more_sweeps(celery_worker, sweeps=3)

    recipients = Counter(r for m in smtp_server.messages for r in m.recipients)
    assert len(recipients) == READERS - SATED and set(recipients.values()) == {1}
    assert not {f"person{n}@example.org" for n in range(READERS, READERS + SATED)} & set(recipients)
    assert edition_counts(seeded, edition_id) == {
        "status": "done", "planned": READERS - SATED, "skipped": SATED, "sent": READERS - SATED,
        "failed": 0, "withheld": 0,
    }


def test_a_worker_killed_mid_edition_is_replaced_and_every_digest_arrives_once_but_the_one_in_flight(
    portal_env, make_app, tmp_path
):
    server = SlowSMTPServer(delay=0.03).start()
    portal_env.update({"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": str(server.port), "OUTBOX_LEASE_SECONDS": "6",
                       "DIGEST_BATCH_SIZE": "50", "DIGEST_STALL_SECONDS": "3"})
    app = make_app()
    with app.app_context():
        from portal.resources.service import seed_resources

        seed_resources()
        db.session.commit()
    add_subscribers(app, 200, topics=("regulatory",))
    for folder in ("first", "second"):
        (tmp_path / folder).mkdir()
    worker = start_worker(portal_env, tmp_path / "first", concurrency=1)
    try:
        edition_id = _start_edition(app)
        wait_until(lambda: len(server.messages) >= 30, timeout=GENEROUS, message="thirty digests sent")
        os.killpg(worker.proc.pid, signal.SIGKILL)  # the whole worker, mid-edition, no goodbye
        worker.proc.wait()
        received_at_kill = len(server.messages)

        second = start_worker(portal_env, tmp_path / "second", concurrency=1)
        beat = start_beat(portal_env, tmp_path / "second")
        try:
            planned = _planned(app, edition_id)
            assert received_at_kill < planned, "the edition finished before the kill: nothing was tested"
            wait_until(lambda: len({r for m in server.messages for r in m.recipients}) == planned,
                       timeout=240, interval=0.2, message="every digest delivered")
            wait_until(lambda: edition_counts(app, edition_id)["status"] == "done", timeout=GENEROUS,
                       interval=0.2, message="edition done")
        finally:
            beat.stop()
            second.stop()
    finally:
        worker.stop()
        server.stop()
    assert planned == 200
    copies = Counter(m.message["Message-ID"] for m in server.messages)
    assert len(copies) == planned
    duplicates = sum(count - 1 for count in copies.values())
    assert duplicates <= 1, f"{duplicates} digests sent twice (killed after {received_at_kill})"
    with app.app_context():
        assert db.session.scalar(select(db.func.count()).select_from(DigestDelivery)) == planned
