"""Heartbeat settings are checked at start-up: a live process must never look late."""
import pytest

from portal.config import ConfigError, load_config


def test_the_defaults_beat_every_15_seconds_late_after_a_minute_missing_after_five(tmp_path):
    config = load_config(str(tmp_path), environ={})
    assert (config["HEARTBEAT_SECONDS"], config["HEARTBEAT_LATE_SECONDS"], config["HEARTBEAT_MISSING_SECONDS"]) == (
        15, 60, 300)
    assert (config["OUTBOX_LATE_MINUTES"], config["OUTBOX_BULK_LATE_MINUTES"]) == (15, 240)


@pytest.mark.parametrize("environ", [
    {"HEARTBEAT_SECONDS": "60", "HEARTBEAT_LATE_SECONDS": "60"},
    {"HEARTBEAT_LATE_SECONDS": "400"},
])
def test_late_must_come_after_a_heartbeat_and_before_missing(tmp_path, environ):
    with pytest.raises(ConfigError) as excinfo:
        load_config(str(tmp_path), environ=environ)
    assert "HEARTBEAT_SECONDS" in str(excinfo.value) and "< HEARTBEAT_LATE_SECONDS" in str(excinfo.value)


@pytest.mark.parametrize("value", ["soon", "0", "-5", "inf", "nan"])
def test_a_heartbeat_interval_that_is_not_a_positive_number_is_refused(tmp_path, value):
    with pytest.raises(ConfigError) as excinfo:
        load_config(str(tmp_path), environ={"HEARTBEAT_SECONDS": value})
    assert str(excinfo.value) == f"HEARTBEAT_SECONDS must be a positive number of seconds, not {value!r}."
