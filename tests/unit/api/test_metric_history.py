"""The metric names the HTTP API accepts are the read model's and the operational samples',
and its pattern says so."""

from __future__ import annotations

import re

from api.http.metric_history import ANY_NAME, NAMES, TENANT_NAMES
from infrastructure.system_samples import OPERATOR_METRICS
from projections.metrics import METRICS


def test_the_api_names_every_metric_of_the_read_model_and_no_other() -> None:
    assert set(TENANT_NAMES) == set(METRICS) and len(TENANT_NAMES) == len(METRICS)


def test_the_api_names_every_operator_metric_besides() -> None:
    assert set(NAMES) == set(METRICS) | set(OPERATOR_METRICS)
    assert len(NAMES) == len(METRICS) + len(OPERATOR_METRICS)


def test_the_names_pattern_takes_lists_of_known_names_only() -> None:
    pattern = re.compile(f"^(?:{ANY_NAME})(?:,(?:{ANY_NAME}))*$")
    assert pattern.match("messages,tool_duration_ms_p95,events")
    assert pattern.match("projection_lag_s,store_available")
    assert not pattern.match("messages,nope") and not pattern.match("0") and not pattern.match("")
