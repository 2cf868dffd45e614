"""The console's run page: an agent run's timeline (steps with their durations, tool
calls, tokens and cost) that follows the run live and replays step by step in the page.

It reads the timeline the ``/v1/runs/{id}`` query reads.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from uuid import UUID

import msgspec
from litestar import Controller, Request, get
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import ServerSentEventMessage, Template

from api.http.console.render import fragment, page
from api.http.console.streams import (
    KEEPALIVE,
    KEEPALIVE_SECONDS,
    After,
    LastEventId,
    streamed,
)
from api.http.console.viewer import SCOPE, Viewer
from api.http.event_stream import EventStream
from api.http.reads import POSITION_HEADER, ReadModels
from api.http.subscriptions import check_cursor
from application.errors import NotFound
from infrastructure.live_hub import Filter, LiveEvent, LiveHub, follow
from infrastructure.live_limits import LiveLimits
from infrastructure.signals import Signals
from projections.runs import run_timeline

SHOWN_CHARS = 600
LABELS = {
    "agent_started": "Started",
    "agent_thinking": "Thinking",
    "tool_executing": "Tool call",
    "tool_completed": "Tool result",
    "agent_completed": "Completed",
    "agent_failed": "Failed",
    "agent_cancelled": "Cancelled",
}


def _text(value: Any) -> str:
    text = value if isinstance(value, str) else msgspec.json.encode(value).decode()
    return text if len(text) <= SHOWN_CHARS else text[:SHOWN_CHARS] + "…"


def summary(step: dict[str, Any]) -> str:
    """What a step says, in a line or a paragraph: the thought, the call, the result."""
    detail, kind = step["detail"] or {}, step["kind"]
    if kind == "agent_thinking":
        return _text(detail.get("text") or "")
    if kind == "tool_executing":
        return f"{detail.get('tool')}({_text(detail.get('arguments'))})"
    if kind == "tool_completed":
        if detail.get("error"):
            return f"error: {_text(detail['error'])}"
        return _text(detail.get("result"))
    if kind == "agent_completed":
        return _text(detail.get("usage") or {})
    if kind in ("agent_failed", "agent_cancelled"):
        return _text(detail.get("error") or detail.get("reason") or "")
    return f"{detail.get('agent', '')} on {detail.get('model', '')}"


def timeline_context(run: dict[str, Any]) -> dict[str, Any]:
    """What the timeline fragment shows: the run, and each step with its offset from the
    start and its share of the run's length (for the bars)."""
    steps = run["steps"]
    start = steps[0]["at"] if steps else run["started_at"]
    total = max(1.0, sum(s["duration_ms"] or 0.0 for s in steps))
    shown = [
        s
        | {
            "label": LABELS.get(s["kind"], s["kind"]),
            "summary": summary(s),
            "offset_ms": (s["at"] - start).total_seconds() * 1000,
            "share": min(100.0, 100.0 * (s["duration_ms"] or 0.0) / total),
        }
        for s in steps
    ]
    return {"run": run, "steps": shown}


class RunsController(Controller):
    path = "/console/runs"

    @get("/{run_id:uuid}", opt={SCOPE: "read"})
    async def run(
        self,
        viewer: NamedDependency[Viewer],
        read_models: NamedDependency[ReadModels],
        run_id: FromPath[UUID],
    ) -> Template:
        """A run's timeline, following it live while it runs, with a replay control."""
        tenant = viewer.principal.tenant_id
        found, headers = await read_models.query(
            ("runs",), lambda conn: run_timeline(conn, tenant, run_id), None
        )
        if found is None:
            raise NotFound(f"run {run_id} not found")
        return page(
            viewer,
            "run.html",
            f"Run of {found['agent']}",
            after=int(headers[POSITION_HEADER]),
            **timeline_context(found),
        )

    @get("/{run_id:uuid}/stream", opt={SCOPE: "read"})
    async def stream(
        self,
        request: Request[Any, Any, Any],
        viewer: NamedDependency[Viewer],
        run_id: FromPath[UUID],
        hub: NamedDependency[LiveHub],
        read_models: NamedDependency[ReadModels],
        live_limits: NamedDependency[LiveLimits],
        signals: NamedDependency[Signals],
        after: After = None,
        last_event_id: LastEventId = None,
    ) -> EventStream:
        """The run's timeline again, whole, after each of its new events."""
        tenant = viewer.principal.tenant_id
        start = int(last_event_id) if last_event_id else after
        await check_cursor(hub, start, "after", "query")
        wanted = (Filter("run", str(run_id)),)

        async def frames() -> AsyncIterator[ServerSentEventMessage]:
            items = follow(
                hub, tenant, wanted, start, buffer=hub.buffer, keepalive=KEEPALIVE_SECONDS
            )
            async for item in items:
                if item is None:
                    yield KEEPALIVE
                if not isinstance(item, LiveEvent) or item.ephemeral:
                    continue
                found, _ = await read_models.query(
                    ("runs",), lambda conn: run_timeline(conn, tenant, run_id), item.position
                )
                if found is not None:
                    html = fragment("_timeline.html", **timeline_context(found))
                    yield ServerSentEventMessage(event="replace", id=str(item.position), data=html)

        return await streamed(request, viewer, frames(), live_limits, signals)
