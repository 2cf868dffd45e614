"""Prometheus metrics at /metrics: the plugin's request metrics, and each projection's
position, lag and parked events, read from the database when scraped.

Public, like /readyz: names and counts only.
"""

from __future__ import annotations

from typing import Any

from litestar import get
from litestar.di import NamedDependency
from litestar.plugins.prometheus import PrometheusController
from litestar.response import Response
from prometheus_client import Gauge

from api.bootstrap import Container
from api.http.health import projection_statuses
from infrastructure.read_models import ProjectionStatus

# Read from the database, the same in every API process: the newest, not a sum.
PARKED = Gauge(
    "chronicle_projection_parked_events",
    "Events a projection set aside because it could not apply them, with those queued"
    " behind them (see `chronicle projections parked`)",
    ["projection"],
    multiprocess_mode="mostrecent",
)
POSITION = Gauge(
    "chronicle_projection_position",
    "The last position of the log a projection has applied",
    ["projection"],
    multiprocess_mode="mostrecent",
)
LAG = Gauge(
    "chronicle_projection_lag_events",
    "Events in the log after a projection's position",
    ["projection"],
    multiprocess_mode="mostrecent",
)


def record(statuses: list[ProjectionStatus]) -> None:
    for status in statuses:
        PARKED.labels(status.name).set(status.parked)
        POSITION.labels(status.name).set(status.position)
        LAG.labels(status.name).set(status.lag)


class MetricsController(PrometheusController):
    """The plugin's /metrics, with the projection gauges refreshed first (in a worker
    thread); when the database does not answer they keep their last values."""

    @get(operation_id="getMetrics", media_type="text/plain")
    async def get(self, container: NamedDependency[Container]) -> Response[Any]:
        statuses = await projection_statuses(container)
        if statuses is not None:
            record(statuses)
        return await PrometheusController.get.fn(self)  # type: ignore[no-any-return]
