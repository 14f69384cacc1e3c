"""The retention registry covers every column that can hold personal data, and every period is a setting."""
import re
from pathlib import Path

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, Text

from portal.config import ConfigError, load_config
from portal.extensions import db
from portal.retention import registry

ROOT = Path(__file__).resolve().parents[2]


def test_every_text_column_of_every_model_is_declared(app):
    assert registry.undeclared_columns(db.metadata) == []


def test_a_new_column_that_could_hold_personal_data_is_reported():
    metadata = MetaData()
    Table("registration", metadata, Column("id", Integer, primary_key=True), Column("email", String(320)),
          Column("phone", String(40)), Column("code", String(8)), Column("nickname", Text))
    assert registry.undeclared_columns(metadata) == ["registration.phone", "registration.nickname"]


def test_every_declared_column_exists(app):
    existing = {f"{table.name}.{column.name}" for table in db.metadata.sorted_tables for column in table.columns}
    assert registry.identifying_columns() - existing == set()
    not_identifying = {f"{table}.{column}" for table, columns in registry.NOT_IDENTIFYING.items() for column in columns}
    assert not_identifying - existing == set()
    assert not_identifying & registry.identifying_columns() == set()


def test_every_table_with_identifying_columns_belongs_to_a_kind_that_names_it(app):
    tables = {table.name for table in db.metadata.sorted_tables}
    for kind in registry.KINDS:
        assert set(kind.tables) <= tables, kind.key
        assert {column.split(".")[0] for column in kind.columns} <= tables, kind.key
    covered = {table for kind in registry.KINDS for table in kind.tables}
    assert {column.split(".")[0] for column in registry.identifying_columns()} <= covered


def test_the_deliverability_tables_are_declared(app):
    covered = {table for kind in registry.KINDS for table in kind.tables}
    assert {"delivery_event", "mail_suppression"} <= covered


def test_every_period_is_a_setting_with_a_default_listed_in_env_example(tmp_path):
    defaults = load_config(str(tmp_path), environ={})
    listed = dict(re.findall(r"^(RETENTION_[A-Z_]+)=(\d+)$", (ROOT / ".env.example").read_text(), re.M))
    for setting in registry.period_settings():
        assert isinstance(defaults[setting], int) and defaults[setting] >= 1
        assert listed[setting] == str(defaults[setting]), setting


def test_a_period_setting_is_read_from_the_environment(tmp_path):
    config = load_config(str(tmp_path), environ={"RETENTION_REGISTRATION_DAYS": "400"})
    assert config["RETENTION_REGISTRATION_DAYS"] == 400


def test_a_period_of_zero_days_is_refused_with_its_name(tmp_path):
    with pytest.raises(ConfigError, match="RETENTION_PAGE_VIEW_DAYS"):
        load_config(str(tmp_path), environ={"RETENTION_PAGE_VIEW_DAYS": "0"})


def test_erasing_a_subscriber_empties_every_column_the_registry_lists_for_them(app):
    """The newsletter's erasure is its own code: this ties it to the registry's list."""
    from portal.newsletter.models import Subscriber
    from portal.newsletter.service import erase_subscriber

    with app.app_context():
        subscriber = Subscriber(email="ada@example.org", email_key="ada@example.org", first_name="Ada",
                                status="confirmed")
        db.session.add(subscriber)
        db.session.flush()
        erase_subscriber(subscriber)
        db.session.flush()
        for column in registry.kind("subscriber").columns:
            table, _, name = column.partition(".")
            assert table == "subscriber" and getattr(subscriber, name) in ("", None), column
