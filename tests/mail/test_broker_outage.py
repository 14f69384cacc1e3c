"""Redis down when the email's transaction commits: nothing fails, and the sweeper delivers it later."""
import pytest

from portal.extensions import db
from portal.mail.models import EmailStatus
from portal.celery_app import publish_committed_tasks
from tests.support.mail import GENEROUS, queue_test_email, row_state, wait_for_more_sweeps, wait_for_status


@pytest.mark.services
def test_email_committed_while_redis_is_down_is_delivered_once_by_the_sweeper_when_it_returns(
    smtp_env, smtp_server, redis_server, make_app, start_celery
):
    smtp_env["REDIS_URL"] = redis_server.url
    app = make_app()
    redis_server.stop()

    with app.test_request_context():
        row = queue_test_email()
        db.session.commit()
        email_id = row.id
        publish_committed_tasks()  # the broker refuses; this must neither raise nor hang
    state = row_state(app, email_id)
    assert (state.status, state.attempts) == (EmailStatus.QUEUED.value, 0)

    redis_server.start()
    worker = start_celery.worker()
    start_celery.beat()
    smtp_server.wait_for(1, timeout=GENEROUS)
    assert wait_for_status(app, email_id, EmailStatus.SENT).attempts == 1
    wait_for_more_sweeps(worker, 2)
    assert len(smtp_server.messages) == 1
