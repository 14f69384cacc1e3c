"""Tasks only tests run: each appends what it saw to <instance>/probe.log, one line per run."""
from pathlib import Path

from celery import shared_task
from flask import current_app
from sqlalchemy import select

from portal.celery_app import enqueue_after_commit
from portal.extensions import db
from portal.resources.models import Resource, Topic
from portal.resources.service import resource_href


def probe_log(instance_path) -> Path:
    return Path(instance_path) / "probe.log"


def report(line: str) -> None:
    with open(probe_log(current_app.instance_path), "a") as log:
        log.write(line + "\n")


def add_probe_topic(marker: str) -> int:
    """A row whose visibility tells whether the transaction that wrote it was committed."""
    topic = Topic(slug=f"probe-{marker}", description=f"Written by the {marker} probe.")
    db.session.add(topic)
    db.session.flush()
    return topic.id


@shared_task(name="tests.report_topic")
def report_topic(topic_id: int, marker: str) -> None:
    report(f"{marker} visible={db.session.get(Topic, topic_id) is not None}")


@shared_task(name="tests.add_topic_then_report")
def add_topic_then_report(marker: str, commit: bool) -> None:
    """Inside a task: write a row, ask for report_topic after commit, then commit or roll back."""
    enqueue_after_commit(report_topic, add_probe_topic(marker), marker)
    if commit:
        db.session.commit()
    else:
        db.session.rollback()


@shared_task(name="tests.report_resource_link")
def report_resource_link(slug: str) -> None:
    resource = db.session.scalar(select(Resource).where(Resource.slug == slug))
    report(f"link {resource_href(resource, external=True)}")
