"""Schemathesis hooks for the fuzz run (loaded by tests/fuzz/schemathesis.toml)."""

from __future__ import annotations

from typing import Any

import schemathesis
from schemathesis.generation.case import Case
from schemathesis.hooks import HookContext

LONG_POLL_CAP_S = 0.2


@schemathesis.hook
def before_call(context: HookContext, case: Case[Any], kwargs: dict[str, Any]) -> None:
    """A claim long-polls for up to its valid ``wait_s`` (60 s) when no task turns up; the
    fuzz run keeps such waits short, leaving invalid values as generated."""
    body = case.body
    if case.operation.label == "POST /v1/tasks/claim" and isinstance(body, dict):
        wait = body.get("wait_s")
        if isinstance(wait, int | float) and not isinstance(wait, bool) and 0 < wait <= 60:
            body["wait_s"] = min(wait, LONG_POLL_CAP_S)
