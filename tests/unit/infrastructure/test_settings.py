"""The logging settings: a level and a format from a short list, any case; anything else is
a one-line error naming the variable."""

from __future__ import annotations

import pytest

from infrastructure.settings import Settings, SettingsError


def test_the_level_is_info_and_the_format_left_to_the_terminal_by_default() -> None:
    settings = Settings.from_env({})
    assert settings.log_level == "info" and settings.log_format is None


@pytest.mark.parametrize(
    ("level", "expected"), [("debug", "debug"), ("WARNING", "warning"), (" Error ", "error")]
)
def test_a_level_is_read_in_any_case(level: str, expected: str) -> None:
    assert Settings.from_env({"CHRONICLE_LOG_LEVEL": level}).log_level == expected


@pytest.mark.parametrize("log_format", ["json", "console", "JSON"])
def test_a_format_is_json_or_console(log_format: str) -> None:
    settings = Settings.from_env({"CHRONICLE_LOG_FORMAT": log_format})
    assert settings.log_format == log_format.lower()


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("CHRONICLE_LOG_LEVEL", "verbose"),
        ("CHRONICLE_LOG_LEVEL", "warn"),
        ("CHRONICLE_LOG_FORMAT", "logfmt"),
        ("CHRONICLE_LOG_FORMAT", "pretty"),
    ],
)
def test_another_value_is_a_one_line_error_naming_the_variable(name: str, value: str) -> None:
    with pytest.raises(SettingsError) as refused:
        Settings.from_env({name: value})
    message = str(refused.value)
    assert message.startswith(name) and repr(value) in message and "\n" not in message


def test_metrics_keep_minutes_a_week_and_hours_ninety_days_unless_told() -> None:
    default = Settings.from_env({})
    assert (default.metrics_minute_days, default.metrics_hour_days) == (7, 90)
    told = {"CHRONICLE_METRICS_MINUTE_DAYS": "2", "CHRONICLE_METRICS_HOUR_DAYS": "30"}
    assert (
        Settings.from_env(told).metrics_minute_days,
        Settings.from_env(told).metrics_hour_days,
    ) == (2, 30)


@pytest.mark.parametrize(("minutes", "hours"), [("0", "90"), ("8", "7")])
def test_minute_buckets_cannot_outlive_hour_buckets(minutes: str, hours: str) -> None:
    env = {"CHRONICLE_METRICS_MINUTE_DAYS": minutes, "CHRONICLE_METRICS_HOUR_DAYS": hours}
    with pytest.raises(SettingsError, match="CHRONICLE_METRICS_MINUTE_DAYS"):
        Settings.from_env(env)
