"""Database connections that die while a batch is sent cost at most the message whose mark could not be written."""
import time
from collections import Counter

import pytest
from sqlalchemy import func, select

from portal.celery_app import publish_committed_tasks
from portal.extensions import db
from portal.mail.delivery import MARK_GIVEN_UP
from portal.mail.models import EmailStatus, OutgoingEmail
from tests.support.connection_killer import ConnectionKiller
from tests.support.mail import queue_test_email
from tests.support.smtp import SlowSMTPServer
from tests.support.wait import wait_until
from tests.support.worker import start_beat, start_worker

MESSAGES = 120


@pytest.mark.services
def test_connections_terminated_while_sending_send_nothing_twice_that_was_marked(portal_env, make_app,
                                                                                 database_url, tmp_path):
    server = SlowSMTPServer().start()
    # A short lease, so that what a dead connection left unmarked is sent again within the test;
    # long enough that a send plus its mark's retries on fresh connections fit in it.
    portal_env.update({"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": str(server.port), "OUTBOX_LEASE_SECONDS": "10"})
    app = make_app()
    worker = start_worker(portal_env, tmp_path, concurrency=2)
    beat = start_beat(portal_env, tmp_path)
    try:
        with app.app_context():
            for n in range(MESSAGES):
                queue_test_email(to=f"person{n}@example.org")
            db.session.commit()
            # Queued first: the killer is for the workers' connections, not the test's own.
            with ConnectionKiller(database_url, every=0.3) as killer:
                publish_committed_tasks()
                deadline = time.monotonic() + 25
                while len({m.message["Message-ID"] for m in server.messages}) < MESSAGES and time.monotonic() < deadline:
                    time.sleep(0.1)

        def all_sent():
            with app.app_context():
                unsent = db.session.scalar(select(func.count()).where(OutgoingEmail.status != EmailStatus.SENT.value))
                db.session.remove()
                return unsent == 0

        wait_until(all_sent, timeout=30, interval=0.2, message="every row recorded as sent")
        given_up = worker.output().count(MARK_GIVEN_UP)
    finally:
        beat.stop()
        worker.stop()
        server.stop()
    assert killer.terminated > 0
    copies = Counter(m.message["Message-ID"] for m in server.messages)
    assert len(copies) == MESSAGES
    duplicates = sum(count - 1 for count in copies.values())
    # Only a message whose mark could not be written on any connection may go again.
    assert duplicates <= given_up, f"{duplicates} messages sent twice, {given_up} marks given up"
