"""Liveness and readiness: ready only when PostgreSQL, NATS and Valkey all answer."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import anyio.to_thread
from litestar import Controller, Request, get
from litestar.response import Response

from api.bootstrap import Container
from infrastructure.event_store import EVENTS_TABLE


async def _check(probe: Callable[[], Awaitable[Any]]) -> str:
    try:
        await asyncio.wait_for(probe(), timeout=2.0)
    except Exception as error:
        return f"error: {type(error).__name__}: {error}"[:200]
    return "ok"


async def _projections(container: Container) -> dict[str, Any]:
    """Each projection's state, lag and error (a stopped one names its poison event)."""
    try:
        statuses = await anyio.to_thread.run_sync(
            container.reads.statuses, EVENTS_TABLE, container.store.decode
        )
    except Exception as error:
        return {"error": f"{type(error).__name__}: {error}"[:200]}
    return {
        s.name: {
            "state": s.state,
            "position": s.position,
            "lag": s.lag,
            **({"error": s.error, "error_position": s.error_position} if s.error else {}),
        }
        for s in statuses
    }


class HealthController(Controller):
    include_in_schema = True
    tags = ["health"]

    @get("/healthz")
    async def healthz(self) -> dict[str, str]:
        """The process is alive."""
        return {"status": "ok"}

    @get("/readyz")
    async def readyz(self, request: Request[Any, Any, Any]) -> Response[dict[str, Any]]:
        """PostgreSQL, NATS and Valkey/Redis all answer."""
        state = request.app.state
        container: Container = state.container
        checks = {
            "postgres": await _check(lambda: anyio.to_thread.run_sync(container.store.ping)),
            "nats": await _check(state.nats.ping),
            "redis": await _check(state.redis.ping),
        }
        ready = all(v == "ok" for v in checks.values())
        body = {
            "status": "ready" if ready else "unavailable",
            "checks": checks,
            "projections": await _projections(container),
        }
        return Response(body, status_code=200 if ready else 503)
