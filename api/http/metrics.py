"""Prometheus metrics at /metrics: what the API processes counted (summed over them when
`serve` runs several), the HTTP plugin's request metrics, and the backlogs of the log's
followers and the task queue, read from the database when scraped.

Public, like /readyz: names and counts only. Metric definitions live in
`infrastructure/metrics.py`; this module only exposes them and counts at the HTTP edge.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import anyio.to_thread
import structlog
from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.response import Response
from litestar.types import Message, Scope
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from api.bootstrap import Container
from api.http.commands import command_of
from infrastructure.backlogs import Backlogs, read_backlogs
from infrastructure.metrics import (
    COMMANDS,
    forget_dead_processes,
    multiprocess_enabled,
    outcome_of,
)

READ_TIMEOUT_SECONDS = 3.0
log = structlog.get_logger(__name__)


class BacklogCollector(Collector):
    """The last backlogs read from the database, as gauges. Read by whichever process
    answers the scrape and reported by it alone, so they are never summed over processes;
    when the database does not answer, the last values stay."""

    def __init__(self) -> None:
        self.last: Backlogs | None = None

    async def refresh(self, container: Container) -> None:
        def read() -> Backlogs:
            return container.reads.read(lambda conn: read_backlogs(conn, container.events.reader))

        try:
            self.last = await asyncio.wait_for(
                anyio.to_thread.run_sync(read, abandon_on_cancel=True), READ_TIMEOUT_SECONDS
            )
        except Exception as error:
            log.warning("backlogs unavailable for /metrics", error=str(error))

    def collect(self) -> Iterator[Metric]:
        backlogs = self.last
        if backlogs is None:
            return
        yield GaugeMetricFamily(
            "chronicle_log_head_position",
            "The position of the last event in the log",
            backlogs.head,
        )
        by_projection = [
            ("chronicle_projection_position", "The last position a projection has applied"),
            ("chronicle_projection_lag_events", "Events in the log after a projection's position"),
            (
                "chronicle_projection_lag_seconds",
                "Age of the oldest event a projection has not applied yet (0 when caught up)",
            ),
            (
                "chronicle_projection_parked_events",
                "Events a projection set aside because it could not apply them, with those"
                " queued behind them (see `chronicle projections parked`)",
            ),
        ]
        families = [
            GaugeMetricFamily(name, text, labels=["projection"]) for name, text in by_projection
        ]
        for status in backlogs.projections:
            values = (status.position, status.lag, status.lag_seconds, status.parked)
            for family, value in zip(families, values, strict=True):
                family.add_metric([status.name], value)
        yield from families
        if backlogs.relay is not None:
            relay = backlogs.relay
            yield GaugeMetricFamily(
                "chronicle_relay_position",
                "The last position JetStream has acknowledged, as the relay stored it",
                relay.position,
            )
            yield GaugeMetricFamily(
                "chronicle_relay_lag_events",
                "Events in the log not yet published to JetStream",
                relay.events,
            )
            yield GaugeMetricFamily(
                "chronicle_relay_lag_seconds",
                "Age of the oldest event not yet published to JetStream (0 when caught up)",
                relay.seconds,
            )
        depth = GaugeMetricFamily(
            "chronicle_task_queue_depth",
            "Tasks waiting (pending) or under way (running), by type and state",
            labels=["type", "state"],
        )
        dead = GaugeMetricFamily(
            "chronicle_task_dead_letters",
            "Tasks that failed their last attempt and will not run again, by type",
            labels=["type"],
        )
        for count in backlogs.tasks:
            if count.state == "dead":
                dead.add_metric([count.type], count.count)
            else:
                depth.add_metric([count.type, count.state], count.count)
        yield depth
        yield dead


BACKLOGS = BacklogCollector()


def exposition() -> bytes:
    """The text format of every metric of this process, or of all API processes."""
    if multiprocess_enabled():
        forget_dead_processes()
        counted = CollectorRegistry()
        MultiProcessCollector(counted)  # type: ignore[no-untyped-call]
    else:
        counted = REGISTRY
    backlogs = CollectorRegistry()
    backlogs.register(BACKLOGS)
    return generate_latest(counted) + generate_latest(backlogs)


class MetricsController(Controller):
    """/metrics, with the backlogs read first (in a worker thread)."""

    path = "/metrics"

    @get(operation_id="getMetrics", media_type="text/plain")
    async def get(self, container: NamedDependency[Container]) -> Response[bytes]:
        await BACKLOGS.refresh(container)
        body = await anyio.to_thread.run_sync(exposition)
        return Response(body, headers={"Content-Type": CONTENT_TYPE_LATEST})


async def count_command(message: Message, scope: Scope) -> None:
    """A ``before_send`` hook: each command's answer counted by its outcome (refusals
    raised by middleware, such as authentication, included)."""
    if message["type"] != "http.response.start":
        return
    handler: Any = scope.get("route_handler")
    if handler is not None and (command := command_of(handler)) is not None:
        COMMANDS.labels(command, outcome_of(message["status"])).inc()
