"""Tasks published after commit: never for a rolled-back change, once for a committed one, after it is visible."""
import pytest
from flask import Blueprint, request

from portal.celery_app import enqueue_after_commit, publish_committed_tasks
from portal.extensions import db
from tests.support.mail import GENEROUS
from tests.support.probe_tasks import add_probe_topic, add_topic_then_report, probe_log, report_topic
from tests.support.wait import wait_until
from tests.support.worker import start_worker


@pytest.fixture
def probe_worker(portal_env, tmp_path):
    worker = start_worker(portal_env, tmp_path, app="tests.support.probe_worker:celery_app")
    yield worker
    worker.stop()


def probe_lines(app) -> list[str]:
    path = probe_log(app.instance_path)
    return path.read_text().splitlines() if path.exists() else []


def wait_for_probe_line(app, line: str) -> list[str]:
    assert wait_until(lambda: line in probe_lines(app), timeout=GENEROUS), probe_lines(app)
    return probe_lines(app)


def _probe_blueprint() -> Blueprint:
    bp = Blueprint("probe", __name__)

    @bp.post("/probe/<marker>")
    def probe(marker):
        enqueue_after_commit(report_topic, add_probe_topic(marker), marker)
        if request.args.get("commit") == "yes":
            db.session.commit()
        else:
            db.session.rollback()
        return "done"

    return bp


def test_from_a_request_a_rolled_back_task_never_runs_and_a_committed_one_runs_once_after_commit(
    make_app, probe_worker
):
    app = make_app(WTF_CSRF_ENABLED=False)
    app.register_blueprint(_probe_blueprint())
    client = app.test_client()
    assert client.post("/probe/rolled-back").status_code == 200
    assert client.post("/probe/committed?commit=yes").status_code == 200
    lines = wait_for_probe_line(app, "committed visible=True")
    assert lines == ["committed visible=True"]


def test_from_a_task_a_rolled_back_task_never_runs_and_a_committed_one_runs_once_after_commit(
    make_app, probe_worker
):
    app = make_app()
    with app.app_context():
        add_topic_then_report.delay("rolled-back-in-task", False)
        add_topic_then_report.delay("committed-in-task", True)
    wait_for_probe_line(app, "committed-in-task visible=True")
    assert probe_lines(app) == ["committed-in-task visible=True"]


def test_nothing_is_published_before_the_commit(app):
    with app.app_context():
        enqueue_after_commit(report_topic, add_probe_topic("pending"), "pending")
        publish_committed_tasks()  # nothing committed yet: nothing to publish
        assert db.session.info["tasks.pending"]
        db.session.rollback()
        assert "tasks.pending" not in db.session.info
        assert "tasks.committed" not in db.session.info


def test_an_absolute_link_is_built_inside_a_worker(make_app, probe_worker):
    from portal.resources.models import Resource
    from tests.support.probe_tasks import report_resource_link

    app = make_app()
    with app.app_context():
        db.session.add(Resource(slug="unlinked-guide", title="A guide without its own address", kind="guidance",
                                summary="Listed only in the catalog."))
        db.session.commit()
        report_resource_link.delay("unlinked-guide")
    wait_for_probe_line(app, "link http://127.0.0.1:5000/resources#unlinked-guide")
