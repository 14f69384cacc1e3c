"""A worker killed in the middle of a batch re-sends at most the message on the wire, not the batch."""
import os
import signal
from collections import Counter


from portal.celery_app import publish_committed_tasks
from portal.extensions import db
from tests.support.mail import queue_test_email
from tests.support.smtp import SlowSMTPServer
from tests.support.wait import wait_until
from tests.support.worker import start_beat, start_worker

MESSAGES = 60


def test_a_worker_killed_mid_batch_sends_at_most_a_few_messages_twice(portal_env, make_app, tmp_path):
    server = SlowSMTPServer().start()
    portal_env.update({"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": str(server.port), "OUTBOX_LEASE_SECONDS": "6"})
    app = make_app()
    (tmp_path / "first").mkdir()
    (tmp_path / "second").mkdir()
    worker = start_worker(portal_env, tmp_path / "first", concurrency=1)
    try:
        with app.app_context():
            for n in range(MESSAGES):
                queue_test_email(to=f"person{n}@example.org")
            db.session.commit()
            publish_committed_tasks()
        wait_until(lambda: len(server.messages) >= 12, timeout=120, message="a dozen messages sent")
        os.killpg(worker.proc.pid, signal.SIGKILL)  # the whole worker, mid-batch, no goodbye
        worker.proc.wait()
        received_at_kill = len(server.messages)
        assert received_at_kill < MESSAGES, "the batch finished before the kill: nothing was tested"

        # A new worker and the sweeper pick the abandoned rows up once their lease expires.
        second = start_worker(portal_env, tmp_path / "second", concurrency=1)
        beat = start_beat(portal_env, tmp_path / "second")
        try:
            wait_until(lambda: len({m.message["Message-ID"] for m in server.messages}) == MESSAGES,
                       timeout=180, interval=0.2, message="every message delivered")
        finally:
            beat.stop()
            second.stop()
    finally:
        worker.stop()
        server.stop()
    copies = Counter(m.message["Message-ID"] for m in server.messages)
    duplicates = sum(count - 1 for count in copies.values())
    # Each outcome is committed as it happens: only the message on the wire may go twice.
    assert duplicates <= 1, f"{duplicates} messages sent twice (killed after {received_at_kill})"
