"""Alembic migrations produce exactly the schema the models describe, on both backends."""
import warnings

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, text

from portal.extensions import db
from tests.support.database import BACKEND, RUN_ID, pg_admin_execute, pg_url


@pytest.fixture
def empty_database_env(portal_env, tmp_path):
    if BACKEND == "services":
        name = f"portal_mig_{RUN_ID}"
        pg_admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        pg_admin_execute(f'CREATE DATABASE "{name}"')
        portal_env["DATABASE_URL"] = pg_url(name)
        yield portal_env
        pg_admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    else:
        portal_env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'migrated.sqlite'}"
        yield portal_env


def schema_differences(app):
    with db.engine.connect() as connection, warnings.catch_warnings():
        # SQLite cannot reflect expression indexes (lower(email)), so Alembic skips
        # comparing them and says so; test_every_model_index_exists covers them by name.
        warnings.filterwarnings("ignore", message=".*expression-based index.*")
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return compare_metadata(context, db.metadata)


def database_index_names() -> set[str]:
    if db.engine.dialect.name == "postgresql":
        query = "SELECT indexname FROM pg_indexes WHERE schemaname = 'public'"
    else:
        query = "SELECT name FROM sqlite_master WHERE type = 'index' AND name NOT LIKE 'sqlite_autoindex%'"
    return set(db.session.scalars(text(query)))


def test_upgrade_head_yields_exactly_the_models_schema(empty_database_env, make_app):
    app = make_app()
    with app.app_context():
        upgrade()
        assert schema_differences(app) == []


def test_every_model_index_exists_after_upgrade(empty_database_env, make_app):
    app = make_app()
    with app.app_context():
        upgrade()
        model_indexes = {index.name for table in db.metadata.tables.values() for index in table.indexes}
        assert model_indexes <= database_index_names()


def test_downgrade_to_base_and_upgrade_again(empty_database_env, make_app):
    app = make_app()
    with app.app_context():
        upgrade()
        downgrade(revision="base")
        tables = set(inspect(db.engine).get_table_names()) - {"alembic_version"}
        assert tables == set()
        upgrade()
        assert schema_differences(app) == []


def test_upgrade_reduces_the_personal_links_already_counted_to_their_route(empty_database_env, make_app):
    app = make_app()
    stored = {"/manage/WyJSLTEiLDFd.aXyZ.sig": "/manage/…", "/manage/WyJSLTEiLDFd.aXyZ.sig/cancel": "/manage/…",
              "/newsletter/preferences/WyIxIiwxXQ.a.b": "/newsletter/preferences/…",
              "/newsletter/unsubscribe/WyIxIiwxXQ.a.b": "/newsletter/unsubscribe/…",
              "/newsletter/confirm/WyIxIiwxXQ.a.b": "/newsletter/confirm/…", "/verify/x.y.z": "/verify/…",
              "/admin/set-password/x.y.z": "/admin/set-password/…",
              "/manage/lost-link": "/manage/lost-link", "/manage/link-sent": "/manage/link-sent",
              "/": "/", "/newsletter/": "/newsletter/", "/events/policy-summit": "/events/policy-summit"}
    with app.app_context():
        upgrade(revision="3c5e7a9b1d2f")
        for path in stored:
            db.session.execute(text("INSERT INTO page_view (created_at, path, new_visit) "
                                    "VALUES (CURRENT_TIMESTAMP, :path, :new_visit)"), {"path": path, "new_visit": True})
        db.session.commit()
        upgrade()
        after = db.session.scalars(text("SELECT path FROM page_view ORDER BY id")).all()
    assert after == list(stored.values())
