"""Liveness and readiness: ready only when PostgreSQL, NATS and Valkey answer and every
projection runs with nothing parked.

These answers are public: they carry states, names, positions and counts, never an
error's text (which may quote a tenant's data). Details are for operators
(`chronicle projections status`, `chronicle projections parked`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, Literal

import anyio.to_thread
import msgspec
import structlog
from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.response import Response

from api.bootstrap import Connections, Container
from infrastructure.read_models import ProjectionStatus

PROBE_TIMEOUT_SECONDS = 2.0
log = structlog.get_logger(__name__)


async def _check(name: str, probe: Callable[[], Awaitable[Any]]) -> Check:
    try:
        await asyncio.wait_for(probe(), timeout=PROBE_TIMEOUT_SECONDS)
    except Exception as error:
        log.warning("readiness probe failed", server=name, error=str(error))
        return "unreachable"
    return "ok"


async def projection_statuses(container: Container) -> list[ProjectionStatus] | None:
    """Each projection's state, or None when the database cannot tell (logged)."""
    try:
        return await anyio.to_thread.run_sync(container.reads.statuses, container.events.reader)
    except Exception as error:
        log.warning("projection states unavailable", error=str(error))
        return None


def healthy(status: ProjectionStatus) -> bool:
    return status.state != "stopped" and status.parked == 0


Check = Literal["ok", "unreachable"]


class ProjectionState(msgspec.Struct):
    state: str
    position: int
    lag: int
    parked: int


class Readiness(msgspec.Struct):
    status: Literal["ready", "degraded"]
    checks: dict[str, Check]
    projections: dict[str, ProjectionState]


class Liveness(msgspec.Struct):
    status: Literal["ok"]


class HealthController(Controller):
    include_in_schema = True
    tags = ["health"]

    @get("/healthz", operation_id="getLiveness")
    async def healthz(self) -> Liveness:
        """The process is alive."""
        return Liveness("ok")

    @get(
        "/readyz",
        operation_id="getReadiness",
        responses={503: ResponseSpec(Readiness, description="Degraded: see the states")},
    )
    async def readyz(
        self, container: NamedDependency[Container], connections: NamedDependency[Connections]
    ) -> Response[Readiness]:
        """200 ``ready`` when PostgreSQL, NATS and Valkey answer and no projection is
        stopped or has parked events; otherwise 503 ``degraded``. States and counts only."""
        checks: dict[str, Check] = {
            "postgres": await _check(
                "postgres", lambda: anyio.to_thread.run_sync(container.store.ping)
            ),
            "nats": await _check("nats", connections.nats.ping),
            "redis": await _check("redis", connections.redis.ping),
        }
        statuses = await projection_statuses(container)
        ready = (
            all(v == "ok" for v in checks.values())
            and statuses is not None
            and all(healthy(s) for s in statuses)
        )
        body = Readiness(
            "ready" if ready else "degraded",
            checks,
            {s.name: ProjectionState(s.state, s.position, s.lag, s.parked) for s in statuses or ()},
        )
        return Response(body, status_code=200 if ready else 503)
