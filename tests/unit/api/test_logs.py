"""Chronicle's log lines: JSON with the agreed keys (or readable console lines), from the
configured level up, naming the current span, for structlog and the standard library
alike; tracebacks never carry the values of local variables (keys, payloads)."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import structlog
from opentelemetry.sdk.trace import TracerProvider

from infrastructure.logs import HANDLER_NAME, configure_logging


@pytest.fixture(autouse=True)
def logging_as_before() -> Iterator[None]:
    """These tests configure logging onto their captured output; others log after them."""
    before: dict[str, Any] = structlog.get_config()
    root = logging.getLogger()
    level = root.level
    yield
    structlog.configure(**before)
    for handler in [h for h in root.handlers if h.name == HANDLER_NAME]:
        root.removeHandler(handler)
    root.setLevel(level)
    structlog.contextvars.clear_contextvars()


def lines(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    logged = capsys.readouterr().err
    return [json.loads(line) for line in logged.splitlines()]


def test_a_json_line_has_the_agreed_keys_and_the_request_context(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("info", "json")
    structlog.contextvars.bind_contextvars(request_id="r-1", tenant="acme", command="c.start")
    structlog.get_logger("chronicle.test").info("started", conversation="c-9")
    [line] = lines(capsys)
    assert line == {
        "timestamp": line["timestamp"],
        "level": "info",
        "logger": "chronicle.test",
        "message": "started",
        "request_id": "r-1",
        "tenant": "acme",
        "command": "c.start",
        "conversation": "c-9",
    }
    assert line["timestamp"].endswith("Z")
    stamped = datetime.fromisoformat(line["timestamp"])
    assert stamped.utcoffset() is not None and stamped.utcoffset() == UTC.utcoffset(None)


def test_a_value_json_cannot_hold_is_written_as_its_repr(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("info", "json")
    structlog.get_logger().info("odd", value=object, path=Path("/tmp"))
    [line] = lines(capsys)
    assert line["value"] == repr(object) and line["path"] == repr(Path("/tmp"))


def test_standard_library_and_uvicorn_lines_are_the_same_json(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("info", "json")
    logging.getLogger("uvicorn.error").info("Started server process [%d]", 42)
    [line] = lines(capsys)
    assert line["logger"] == "uvicorn.error" and line["level"] == "info"
    assert line["message"] == "Started server process [42]" and "timestamp" in line


def test_lines_below_the_level_are_dropped_for_both_loggers(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("warning", "json")
    structlog.get_logger("chronicle.test").info("quiet")
    logging.getLogger("somewhere").info("quiet too")
    structlog.get_logger("chronicle.test").warning("loud")
    logging.getLogger("somewhere").error("loud too")
    assert [(line["level"], line["message"]) for line in lines(capsys)] == [
        ("warning", "loud"),
        ("error", "loud too"),
    ]


def test_chatty_libraries_speak_from_warning_unless_debugging(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("info", "json")
    logging.getLogger("psycopg.pool").info("connection given by 'pool'")
    assert capsys.readouterr().err == ""
    configure_logging("debug", "json")
    logging.getLogger("psycopg.pool").info("connection given by 'pool'")
    assert len(lines(capsys)) == 1


def test_a_line_names_the_current_span_and_only_a_valid_one(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("info", "json")
    tracer = TracerProvider().get_tracer("t")
    with tracer.start_as_current_span("s") as span:
        structlog.get_logger().info("inside")
        logging.getLogger("lib").warning("inside too")
    structlog.get_logger().info("outside")
    inside, stdlib, outside = lines(capsys)
    context = span.get_span_context()
    for line in (inside, stdlib):
        assert line["trace_id"] == f"{context.trace_id:032x}"
        assert line["span_id"] == f"{context.span_id:016x}"
        assert re.fullmatch("[0-9a-f]{32}", line["trace_id"])
        assert re.fullmatch("[0-9a-f]{16}", line["span_id"])
    assert "trace_id" not in outside and "span_id" not in outside


def test_console_lines_are_readable_not_json(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("info", "console")
    structlog.get_logger("chronicle.test").info("started", conversation="c-9")
    logged = capsys.readouterr().err
    assert "started" in logged and "conversation=c-9" in logged
    with pytest.raises(json.JSONDecodeError):
        json.loads(logged)


def test_without_a_format_json_unless_on_a_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("info")  # captured: not a terminal
    structlog.get_logger().info("piped")
    assert lines(capsys)[0]["message"] == "piped"


def fail_with(header: str) -> None:
    authorization = f"Bearer {header}"
    raise RuntimeError(f"refused {len(authorization)} characters")


@pytest.mark.parametrize("log_format", ["json", "console"])
def test_a_logged_traceback_shows_the_code_not_the_values(
    capsys: pytest.CaptureFixture[str], log_format: str
) -> None:
    configure_logging("info", log_format)
    secret = "chr_" + "0123456789abcdef" * 2 + "_top-secret"
    try:
        fail_with(secret)
    except RuntimeError:
        structlog.get_logger("test").exception("unhandled error")
        logging.getLogger("lib").exception("unhandled error")
    logged = capsys.readouterr().err
    assert logged.count("unhandled error") == 2
    assert "fail_with" in logged and "RuntimeError" in logged
    assert "top-secret" not in logged
