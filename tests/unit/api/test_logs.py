"""Logged tracebacks never carry the values of local variables (keys, payloads)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import structlog

from api.logs import configure_logging


@pytest.fixture(autouse=True)
def logging_as_before() -> Iterator[None]:
    """This test configures logging onto its captured output; others log after it."""
    before: dict[str, Any] = structlog.get_config()
    yield
    structlog.configure(**before)


def fail_with(header: str) -> None:
    authorization = f"Bearer {header}"
    raise RuntimeError(f"refused {len(authorization)} characters")


def test_a_logged_traceback_shows_the_code_not_the_values(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging()
    secret = "chr_" + "0123456789abcdef" * 2 + "_top-secret"
    try:
        fail_with(secret)
    except RuntimeError:
        structlog.get_logger("test").exception("unhandled error")
    logged = capsys.readouterr().err
    assert "fail_with" in logged and "RuntimeError" in logged
    assert "top-secret" not in logged
