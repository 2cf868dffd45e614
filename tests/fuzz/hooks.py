"""Schemathesis hooks for the fuzz run (loaded by tests/fuzz/schemathesis.toml)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import schemathesis
from schemathesis.generation.case import Case
from schemathesis.hooks import HookContext

LONG_POLL_CAP_S = 0.2
STEPS = {"1m": 1, "5m": 5, "1h": 60, "1d": 1440}  # minutes
HISTORY_MAX_STEPS = 1440


@schemathesis.hook
def before_call(context: HookContext, case: Case[Any], kwargs: dict[str, Any]) -> None:
    """A claim long-polls for up to its valid ``wait_s`` (60 s) when no task turns up; the
    fuzz run keeps such waits short, leaving invalid values as generated. A metrics
    series keeps to the range the API takes."""
    body = case.body
    if case.operation.label == "POST /v1/tasks/claim" and isinstance(body, dict):
        wait = body.get("wait_s")
        if isinstance(wait, int | float) and not isinstance(wait, bool) and 0 < wait <= 60:
            body["wait_s"] = min(wait, LONG_POLL_CAP_S)

    if case.operation.label == "GET /v1/metrics/history" and isinstance(case.query, dict):
        within_history_range(case.query)


def within_history_range(query: dict[str, Any]) -> None:
    """A series may span at most 1440 steps, ``from`` not after ``to`` (400 otherwise, as
    documented; no schema can say it): a valid pair beyond that is narrowed to an empty
    range at ``to``, leaving invalid values as generated."""
    step = query.get("step", "1m")
    if not isinstance(step, str) or step not in STEPS:
        return
    try:
        end = _time(query.get("to")) or datetime.now(UTC)
        start = _time(query.get("from")) or end - timedelta(hours=1)
    except (msgspec.ValidationError, ValueError, TypeError, OverflowError):
        return
    minutes = STEPS[step]
    if start > end or end - start > timedelta(minutes=minutes * HISTORY_MAX_STEPS):
        query["from"] = query["to"] = end.isoformat()


def _time(value: Any) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError("a time is a string")
    moment = msgspec.convert(value, datetime, strict=True)  # as the API reads it
    if moment.tzinfo is None:
        raise ValueError("a time without an offset")
    return moment.astimezone(UTC)
