"""The metrics history on PostgreSQL: buckets equal the counts of the log (and a rebuild
gives the same), the series and the dashboard, tenant isolation, retention, bad input."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg
from psycopg.rows import dict_row

from api.bootstrap import Container
from infrastructure.metrics_retention import MetricsRetention
from projections.metrics import minute_of
from tests.integration.conftest import KeyFactory
from tests.integration.test_http_conversations import assert_problem

Buckets = Counter[tuple[str, str, datetime]]
USAGE = {"input_tokens": 100, "output_tokens": 20, "cost_usd": 0.5}


async def ok(response: httpx.Response, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    return body


async def activity(http: httpx.AsyncClient) -> None:
    """Messages, three runs (completed, failed, cancelled after a tool call), a task
    claimed."""
    cid = (await ok(await http.post("/v1/conversations", json={"title": "m"}), 201))["id"]
    for text in ("one", "two"):
        await ok(
            await http.post(
                f"/v1/conversations/{cid}/messages", json={"role": "user", "content": text}
            ),
            201,
        )
    runs = []
    for model in ("m-1", "m-2", "m-1"):
        body = {"conversation_id": cid, "agent": "a", "model": model}
        runs.append((await ok(await http.post("/v1/runs", json=body), 201))["id"])
    await ok(await http.post(f"/v1/runs/{runs[0]}/complete", json={"content": "d", "usage": USAGE}))
    await ok(await http.post(f"/v1/runs/{runs[1]}/fail", json={"error": "overloaded"}))
    call = {"call_id": "c1", "tool": "search"}
    await ok(await http.post(f"/v1/runs/{runs[2]}/tools", json=call))
    done = {"result": "found", "duration_ms": 40}
    await ok(await http.post(f"/v1/runs/{runs[2]}/tools/c1/result", json=done))
    await ok(await http.post(f"/v1/runs/{runs[2]}/cancel", json={"reason": "left"}))
    await ok(await http.post("/v1/tasks", json={"type": "report.build"}), 201)
    claim = {"worker_id": "w1", "types": ["report.build"], "wait_s": 5}
    await ok(await http.post("/v1/tasks/claim", json=claim))


def from_log(container: Container, tenant: str) -> tuple[Buckets, Counter[str]]:
    """Each (metric, label, minute)'s count as the log says, and each command's name."""
    expected: Buckets = Counter()
    commands: dict[str, str] = {}
    for event in container.events.after(0, 100_000, tenant=tenant):
        minute = minute_of(event.recorded_at)
        expected["events", event.type, minute] += 1
        name = {
            "MessagePosted": "messages",
            "AgentRunStarted": "runs_started",
            "AgentRunCompleted": "runs_completed",
            "AgentRunFailed": "runs_failed",
            "AgentRunCancelled": "runs_cancelled",
        }.get(event.type)
        if name:
            expected[name, "", minute] += 1
        if event.type == "ToolExecutionStarted":
            expected["tool_calls", event.data["tool"], minute] += 1
        if event.type == "TaskSubmitted":
            expected["tasks_submitted", event.data["type"], minute] += 1
        if command_id := event.metadata.get("command_id"):
            commands.setdefault(command_id, event.metadata.get("command") or event.type)
    return expected, Counter(commands.values())


def queue_latency(container: Container, tenant: str) -> float:
    """The wait of the tenant's one task, from its ``run_at`` to its first start, in ms."""
    events = container.events.after(0, 1000, tenant=tenant)
    (submitted,) = [e for e in events if e.type == "TaskSubmitted"]
    started = next(e for e in events if e.type == "TaskStarted")
    ready = datetime.fromisoformat(submitted.data["run_at"])
    return max(0.0, (started.recorded_at - ready).total_seconds() * 1000)


def buckets(dsn: str, tenant: str) -> tuple[Buckets, Counter[str], list[tuple[Any, ...]]]:
    """The tenant's minute buckets, its commands by name, and its runs' usage by model."""
    with psycopg.connect(dsn, row_factory=dict_row) as conn:
        rows = conn.execute(
            "SELECT name, label, at, value FROM rm.metric_minutes WHERE tenant_id = %s", (tenant,)
        ).fetchall()
        names = conn.execute(
            "SELECT label FROM rm.metric_commands WHERE tenant_id = %s", (tenant,)
        ).fetchall()
        runs = conn.execute(
            "SELECT model, input_tokens, output_tokens, cost_usd::float8 AS cost"
            " FROM rm.metric_runs WHERE tenant_id = %s AND at IS NOT NULL",
            (tenant,),
        ).fetchall()
    found: Buckets = Counter({(r["name"], r["label"], r["at"]): int(r["value"]) for r in rows})
    return found, Counter(r["label"] for r in names), [tuple(r.values()) for r in runs]


def tenant_client(
    api_url: str, issue_key: KeyFactory, scopes: tuple[str, ...] | None = None
) -> tuple[str, httpx.AsyncClient]:
    """A new tenant, and a client with its key (every scope unless given)."""
    tenant = f"t-{uuid.uuid4().hex[:12]}"
    key = issue_key(tenant) if scopes is None else issue_key(tenant, scopes)
    headers = {"Authorization": f"Bearer {key}"}
    return tenant, httpx.AsyncClient(base_url=api_url, headers=headers, timeout=30)


async def caught_up(http: httpx.AsyncClient, container: Container) -> dict[str, Any]:
    head = container.events.head()
    return await ok(await http.get("/v1/metrics", params={"min_position": head}))


async def test_buckets_equal_the_counts_of_the_log_and_a_rebuild_gives_the_same(
    api_url: str, container: Container, issue_key: KeyFactory
) -> None:
    tenant, http = tenant_client(api_url, issue_key)
    async with http:
        await activity(http)
        current = await caught_up(http, container)
    expected, commands = from_log(container, tenant)
    found, found_commands, runs = buckets(container.dsn, tenant)
    assert found == expected
    assert found_commands == commands and sum(commands.values()) >= 8
    assert runs == [("m-1", 100, 20, 0.5)]
    totals = {item["name"]: item["last_24h"] for item in current["items"]}
    assert totals["messages"] == 3 and totals["runs_started"] == 3  # the answer is one
    assert totals["tokens_input"] == 100 and totals["cost_usd"] == 0.5
    assert totals["events"] == sum(v for (n, _, _), v in expected.items() if n == "events")
    assert totals["commands"] == sum(commands.values())
    assert totals["tool_duration_ms_p95"] == 40
    assert abs(totals["task_queue_latency_ms_p95"] - queue_latency(container, tenant)) < 0.01

    container.rebuild("metrics").run()
    assert buckets(container.dsn, tenant) == (found, found_commands, runs)


async def test_history_and_dashboard_sum_the_buckets_of_the_own_tenant_only(
    api_url: str, container: Container, issue_key: KeyFactory
) -> None:
    _, http = tenant_client(api_url, issue_key)
    stranger, other = tenant_client(api_url, issue_key)
    async with http, other:
        await activity(http)
        await caught_up(http, container)
        now = datetime.now(UTC)
        window = {"from": (now - timedelta(minutes=10)).isoformat(), "to": now.isoformat()}
        for step, points in (("1m", 11), ("5m", 3), ("1h", 1), ("1d", 1)):
            series = await ok(
                await http.get(
                    "/v1/metrics/history", params={"name": "runs_started", "step": step} | window
                )
            )
            assert series["name"] == "runs_started" and series["step"] == step
            assert len(series["points"]) in (points, points + 1)
            assert sum(p["value"] for p in series["points"]) == 3
        by_model = await ok(
            await http.get(
                "/v1/metrics/history", params={"name": "tokens_input", "label": "m-2"} | window
            )
        )
        assert sum(p["value"] for p in by_model["points"]) == 0
        durations = await ok(
            await http.get(
                "/v1/metrics/history",
                params={"name": "tool_duration_ms_p95", "label": "search", "step": "1h"} | window,
            )
        )
        assert [p["value"] for p in durations["points"] if p["value"] is not None] == [40]
        board = await ok(await http.get("/v1/dashboard"))
        assert board["today"]["tool_duration_ms_p95"] == 40
        assert board["today"]["messages"] == 3 and board["today"]["runs_failed"] == 1
        assert sum(p["value"] for p in board["last_hour"]["tool_calls"]) == 1
        assert len(board["last_hour"]["events"]) == 60
        assert board["tasks"] == "/v1/dashboard/tasks"
        assert (await http.get("/v1/dashboard/tasks")).status_code == 200

        # The other tenant has only the issue of its key (one command): none of this.
        theirs = await caught_up(other, container)
        own = len(container.events.after(0, 1000, tenant=stranger))
        counted = {item["name"]: item["last_24h"] for item in theirs["items"]}
        assert counted.pop("events") == own and counted.pop("commands") == 1  # its key
        assert set(counted.values()) == {0, None}  # none of these; percentiles of nothing
        board = await ok(await other.get("/v1/dashboard"))
        assert board["today"]["messages"] == board["today"]["runs_started"] == 0
        series = await ok(
            await other.get("/v1/metrics/history", params={"name": "runs_started"} | window)
        )
        assert {p["value"] for p in series["points"]} == {0}


async def test_bad_names_steps_and_ranges_are_refused_naming_the_field(
    api_url: str, issue_key: KeyFactory
) -> None:
    _, http = tenant_client(api_url, issue_key)
    _, unread = tenant_client(api_url, issue_key, ("commands:write",))
    now = datetime.now(UTC)
    later = (now + timedelta(hours=1)).isoformat()
    history = "/v1/metrics/history"
    async with http, unread:
        assert_problem(
            await http.get("/v1/metrics", params={"names": "messages,nope"}), 400, "names"
        )
        assert_problem(await http.get(history, params={"name": "nope"}), 400, "name")
        assert_problem(await http.get(history), 400)
        assert_problem(
            await http.get(history, params={"name": "events", "step": "2m"}), 400, "step"
        )
        backwards = {"name": "events", "from": later, "to": now.isoformat()}
        assert_problem(await http.get(history, params=backwards), 400, "from")
        long = {"name": "events", "from": (now - timedelta(days=2)).isoformat()}
        assert_problem(await http.get(history, params=long | {"to": now.isoformat()}), 400, "to")
        assert (await http.get(history, params=long | {"step": "1h"})).status_code == 200
        earliest = {"name": "events", "to": "0001-01-01T00:30:00Z"}  # the hour before: year 1
        assert len((await ok(await http.get(history, params=earliest)))["points"]) == 30
        for path in ("/v1/metrics", "/v1/dashboard"):
            assert_problem(await unread.get(path), 403)
        assert_problem(await unread.get(history, params={"name": "events"}), 403)


def test_retention_forgets_old_minute_buckets_before_old_hour_buckets(
    container: Container,
) -> None:
    tenant, now = f"t-{uuid.uuid4().hex[:12]}", minute_of(datetime.now(UTC))
    ages = {"fresh": timedelta(0), "week": timedelta(days=8), "season": timedelta(days=91)}
    with psycopg.connect(container.dsn) as conn:
        for table in ("metric_minutes", "metric_hours"):
            for label, age in ages.items():
                conn.execute(
                    f"INSERT INTO rm.{table} (tenant_id, name, label, at, value)"  # noqa: S608
                    " VALUES (%s, 'events', %s, %s, 1)",
                    (tenant, label, now - age),
                )
    clock = iter([0.0, 1.0])
    retention = MetricsRetention(container.dsn, 7, 90, every=600, clock=lambda: next(clock))
    assert retention.due() is not None and retention.due() is None  # once per interval
    with psycopg.connect(container.dsn) as conn:
        kept = conn.execute(
            "SELECT 'minute', label FROM rm.metric_minutes WHERE tenant_id = %(t)s UNION ALL"
            " SELECT 'hour', label FROM rm.metric_hours WHERE tenant_id = %(t)s",
            {"t": tenant},
        ).fetchall()
    assert sorted(kept) == [("hour", "fresh"), ("hour", "week"), ("minute", "fresh")]
