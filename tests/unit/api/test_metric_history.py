"""The metric names the HTTP API accepts are the read model's, and its pattern says so."""

from __future__ import annotations

import re

from api.http.metric_history import ANY_NAME, NAMES
from projections.metrics import METRICS


def test_the_api_names_every_metric_of_the_read_model_and_no_other() -> None:
    assert set(NAMES) == set(METRICS) and len(NAMES) == len(METRICS)


def test_the_names_pattern_takes_lists_of_known_names_only() -> None:
    pattern = re.compile(f"^(?:{ANY_NAME})(?:,(?:{ANY_NAME}))*$")
    assert pattern.match("messages,tool_duration_ms_p95,events")
    assert not pattern.match("messages,nope") and not pattern.match("0") and not pattern.match("")
