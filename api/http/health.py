"""Liveness and readiness: ready only when PostgreSQL, NATS and Valkey answer and every
projection runs with nothing parked.

These answers are public: they carry states, names, positions and counts, never an
error's text (which may quote a tenant's data). Details are for operators
(`chronicle projections status`, `chronicle projections parked`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import anyio.to_thread
import structlog
from litestar import Controller, Request, get
from litestar.response import Response

from api.bootstrap import Container
from infrastructure.event_store import EVENTS_TABLE
from infrastructure.read_models import ProjectionStatus

PROBE_TIMEOUT_SECONDS = 2.0
log = structlog.get_logger(__name__)


async def _check(name: str, probe: Callable[[], Awaitable[Any]]) -> str:
    try:
        await asyncio.wait_for(probe(), timeout=PROBE_TIMEOUT_SECONDS)
    except Exception as error:
        log.warning("readiness probe failed", server=name, error=str(error))
        return "unreachable"
    return "ok"


async def projection_statuses(container: Container) -> list[ProjectionStatus] | None:
    """Each projection's state, or None when the database cannot tell (logged)."""
    try:
        return await anyio.to_thread.run_sync(
            container.reads.statuses, EVENTS_TABLE, container.store.decode
        )
    except Exception as error:
        log.warning("projection states unavailable", error=str(error))
        return None


def healthy(status: ProjectionStatus) -> bool:
    return status.state != "stopped" and status.parked == 0


class HealthController(Controller):
    include_in_schema = True
    tags = ["health"]

    @get("/healthz")
    async def healthz(self) -> dict[str, str]:
        """The process is alive."""
        return {"status": "ok"}

    @get("/readyz")
    async def readyz(self, request: Request[Any, Any, Any]) -> Response[dict[str, Any]]:
        """200 ``ready`` when PostgreSQL, NATS and Valkey answer and no projection is
        stopped or has parked events; otherwise 503 ``degraded``. States and counts only."""
        state = request.app.state
        container: Container = state.container
        checks = {
            "postgres": await _check(
                "postgres", lambda: anyio.to_thread.run_sync(container.store.ping)
            ),
            "nats": await _check("nats", state.nats.ping),
            "redis": await _check("redis", state.redis.ping),
        }
        statuses = await projection_statuses(container)
        ready = (
            all(v == "ok" for v in checks.values())
            and statuses is not None
            and all(healthy(s) for s in statuses)
        )
        body = {
            "status": "ready" if ready else "degraded",
            "checks": checks,
            "projections": {
                s.name: {"state": s.state, "position": s.position, "lag": s.lag, "parked": s.parked}
                for s in statuses or ()
            },
        }
        return Response(body, status_code=200 if ready else 503)
