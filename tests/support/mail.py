"""Small helpers shared by the mail tests: queue a message, read a row back, watch the worker log."""
import base64
import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from portal.extensions import db
from portal.mail import queue_email
from portal.mail.models import EmailStatus, OutgoingEmail
from tests.support.wait import wait_until

GENEROUS = 120.0  # seconds; two cores shared with other test runs

# A 1x1 transparent PNG and a minimal PDF, for attachments.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def queue_test_email(to="ada@example.org", name="Ada", **kwargs):
    context = {"name": name, **kwargs.pop("context", {})}
    return queue_email("test_message", to, context, **kwargs)


@dataclass(frozen=True)
class RowState:
    status: str
    attempts: int
    next_attempt_at: datetime
    lease_expires_at: datetime | None
    last_error: str | None
    message_id: str


def row_state(app, email_id: int) -> RowState:
    """The row as another process would see it now (read in a fresh session)."""
    with app.app_context():
        row = db.session.get(OutgoingEmail, email_id)
        return RowState(row.status, row.attempts, row.next_attempt_at, row.lease_expires_at,
                        row.last_error, row.message_id)


def wait_for_status(app, email_id: int, status: EmailStatus) -> RowState:
    def reached():
        state = row_state(app, email_id)
        return state if state.status == status.value else None

    return wait_until(reached, timeout=GENEROUS, interval=0.1, message=f"outbox row {email_id} {status.value}")


def task_successes(worker, task_name: str) -> int:
    """How many runs of `task_name` the worker has logged as succeeded so far."""
    pattern = rf"Task {re.escape(task_name)}\[[^\]]+\] succeeded"
    return len(re.findall(pattern, worker.output()))


def wait_for_task_successes(worker, task_name: str, count: int) -> None:
    wait_until(
        lambda: task_successes(worker, task_name) >= count,
        timeout=GENEROUS, interval=0.1, message=f"{count} successful {task_name} runs",
    )


def wait_for_more_sweeps(worker, sweeps: int = 2) -> None:
    """Let the beat-scheduled sweeper run `sweeps` more times, however long that takes here."""
    start = task_successes(worker, "portal.sweep_outbox")
    wait_for_task_successes(worker, "portal.sweep_outbox", start + sweeps)


@dataclass
class QueuedEmail:
    name: str
    to: str
    subject: str
    text: str
    html: str


def outbox(app, name: str | None = None) -> list[QueuedEmail]:
    with app.app_context():
        query = select(OutgoingEmail).order_by(OutgoingEmail.id)
        if name:
            query = query.where(OutgoingEmail.name == name)
        return [
            QueuedEmail(row.name, row.to_address, row.subject, row.body_text, row.body_html)
            for row in db.session.scalars(query)
        ]
