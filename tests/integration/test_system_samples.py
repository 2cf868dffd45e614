"""Operational samples on PostgreSQL: written by their samplers and read back through the
metrics history by an admin key of ``_system``, never by a tenant; a built-in rule fires
when a projection parks an event and resolves once it is retried; the live connections of
two API processes add up; a tenant sees the share of its budget used."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg
import pytest

from api.bootstrap import Container
from application.alerts import Evaluator
from application.context import CommandContext
from domain.alerts import AlertRule
from domain.tenancy import SYSTEM_TENANT
from infrastructure.embedded import free_port
from infrastructure.metrics_retention import MetricsRetention
from infrastructure.repairs import retry_parked
from infrastructure.samplers import SystemSampler
from infrastructure.settings import Settings
from infrastructure.system_samples import Sample, write_samples
from projections.metrics import minute_of
from tests.integration.cli import run_cli
from tests.integration.conftest import KeyFactory, serving
from tests.integration.test_audit import bearer
from tests.integration.test_http_conversations import assert_problem
from tests.integration.test_parking import (
    accept_content,
    catch_up,
    conversation,
    post,
    refuse_content,
)
from tests.integration.test_usage import complete_run

OPERATOR_SCOPES = ("read", "admin", "commands:write")
T0 = datetime(2021, 3, 4, 5, 6, tzinfo=UTC)  # long before any sampler of the session ran


async def ok(response: httpx.Response, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    return body


@pytest.fixture
async def operator(api_url: str, issue_key: KeyFactory) -> AsyncIterator[httpx.AsyncClient]:
    """An admin key of the operators' tenant."""
    headers = {"Authorization": f"Bearer {issue_key(SYSTEM_TENANT, OPERATOR_SCOPES)}"}
    async with httpx.AsyncClient(base_url=api_url, headers=headers, timeout=30) as http:
        yield http


def history(name: str, start: datetime, minutes: int, **more: str) -> dict[str, str]:
    end = start + timedelta(minutes=minutes)
    return {"name": name, "from": start.isoformat(), "to": end.isoformat(), **more}


def values(series: dict[str, Any]) -> list[float | None]:
    return [point["value"] for point in series["points"]]


async def test_samples_are_read_back_per_step_by_an_operator(
    container: Container, operator: httpx.AsyncClient
) -> None:
    later = T0 + timedelta(minutes=1)
    with psycopg.connect(container.dsn) as conn:
        write_samples(conn, [Sample("live_connections", "sse", 3, T0)], "api-1")
        write_samples(conn, [Sample("live_connections", "sse", 2, T0)], "api-1")  # its worst
        write_samples(conn, [Sample("live_connections", "websocket", 4, T0)], "api-2")
        write_samples(conn, [Sample("live_connections", "sse", 1, later)], "api-2")
        for at, available in ((T0, 1), (later, 0), (later + timedelta(seconds=15), 1)):
            write_samples(conn, [Sample("store_available", "", available, at)])
        lags = [("messages", 7.5), ("search", 2.0)]
        write_samples(conn, [Sample("projection_lag_s", name, s, T0) for name, s in lags])

    live = await ok(
        await operator.get("/v1/metrics/history", params=history("live_connections", T0, 3))
    )
    assert values(live) == [7, 1, None]  # every process and transport together
    only = history("live_connections", T0, 2, label="sse")
    assert values(await ok(await operator.get("/v1/metrics/history", params=only))) == [3, 1]
    five = history("live_connections", T0 - timedelta(minutes=1), 5, step="5m")
    assert values(await ok(await operator.get("/v1/metrics/history", params=five))) == [7]
    up = await ok(
        await operator.get("/v1/metrics/history", params=history("store_available", T0, 2))
    )
    assert values(up) == [1, 0]  # the lowest sample of each minute
    hourly = history("projection_lag_s", T0.replace(minute=0), 60, step="1h")
    assert values(await ok(await operator.get("/v1/metrics/history", params=hourly))) == [7.5]


async def test_the_alerts_process_samples_the_backlogs_and_the_store(
    container: Container, operator: httpx.AsyncClient
) -> None:
    now = datetime.now(UTC)
    taken = SystemSampler(container.dsn, container.events.reader).sample(now)
    names = {(sample.name, sample.label) for sample in taken}
    assert {("store_available", ""), ("projection_lag_s", "messages")} <= names
    assert ("parked_events", "messages") in names
    start = minute_of(now)
    params = {"names": "store_available,projection_lag_s,parked_events"}
    current = await ok(await operator.get("/v1/metrics", params=params))
    figures = {item["name"]: item for item in current["items"]}
    assert figures["store_available"]["this_minute"] == 1
    assert figures["projection_lag_s"]["last_24h"] is not None
    series = await ok(
        await operator.get("/v1/metrics/history", params=history("store_available", start, 1))
    )
    assert values(series) == [1]


async def test_a_tenant_is_refused_operator_metrics_and_an_operator_sees_every_tenant(
    client: httpx.AsyncClient, operator: httpx.AsyncClient, issue_key: KeyFactory, api_url: str
) -> None:
    refused = await client.get("/v1/metrics/history", params={"name": "projection_lag_s"})
    assert assert_problem(refused, 403)["detail"].startswith("name:")
    refused = await client.get("/v1/metrics", params={"names": "messages,store_available"})
    assert assert_problem(refused, 403)["detail"].startswith("names:")
    rule = {"name": "lag", "metric": "parked_events", "op": ">", "threshold": 0, "window_s": 60}
    refused = await client.post("/v1/alert-rules", json=rule)
    assert assert_problem(refused, 403)["detail"].startswith("metric:")
    dashboard = await ok(await client.get("/v1/dashboard"))
    assert "live_connections" not in dashboard["today"] and "messages" in dashboard["today"]

    cid = (await ok(await client.post("/v1/conversations", json={"title": "t"}), 201))["id"]
    body = {"role": "user", "content": "hi"}
    posted = await ok(await client.post(f"/v1/conversations/{cid}/messages", json=body), 201)
    mine = await ok(
        await client.get(
            "/v1/metrics", params={"names": "messages", "min_position": posted["position"]}
        )
    )
    everyone = await ok(await operator.get("/v1/metrics", params={"names": "messages"}))
    assert mine["items"][0]["last_24h"] == 1
    assert everyone["items"][0]["last_24h"] >= 1  # every tenant's together
    overview = await ok(await operator.get("/v1/dashboard"))
    assert {"live_connections", "store_available", "messages"} <= set(overview["today"])

    headers = {"Authorization": f"Bearer {issue_key(SYSTEM_TENANT, ('read',))}"}
    async with httpx.AsyncClient(base_url=api_url, headers=headers) as reader:
        refused = await reader.get("/v1/metrics/history", params={"name": "http_p95_ms"})
        assert_problem(refused, 403)  # operators' figures take the admin scope too


@pytest.fixture
def scratch_container(scratch: Settings) -> Iterator[Container]:
    built = Container.build(scratch)
    yield built
    built.close()


def evaluate(
    c: Container, sampler: SystemSampler, evaluator: Evaluator, now: datetime
) -> list[str]:
    """Sample, then evaluate, as the alerts process does; the steps the built-in `parked
    events` rule took."""
    sampler.sample(now)
    catch_up(c, "alerts")
    taken = c.portal.call(evaluator.evaluate, now)
    return [step for rule_id, step in taken if rule_id == AlertRule.built_in_id("parked events")]


def test_the_built_in_parked_events_rule_fires_and_resolves(
    scratch_container: Container,
) -> None:
    c, dsn = scratch_container, scratch_container.dsn
    sampler, evaluator = SystemSampler(dsn, c.events.reader), c.evaluator()
    now = datetime.now(UTC)
    assert evaluate(c, sampler, evaluator, now) == []  # the built-in rules made, none parked
    rule = c.store.get(AlertRule.built_in_id("parked events"), AlertRule)
    assert (rule.tenant_id, rule.metric) == (SYSTEM_TENANT, "parked_events")

    refuse_content(dsn, "poison")
    post(c, conversation(c, "acme"), "poison")
    catch_up(c, "messages")
    assert evaluate(c, sampler, evaluator, now + timedelta(seconds=15)) == ["open", "fire"]

    accept_content(dsn)
    retry_parked(dsn, c.projections["messages"], c.store.decode_values)
    calm = now + timedelta(minutes=3)  # the parked sample's minute is out of the window
    assert evaluate(c, sampler, evaluator, calm) == []  # calm counts from here
    assert evaluate(c, sampler, evaluator, calm + evaluator.interval) == ["resolve"]
    catch_up(c, "alerts")
    with psycopg.connect(dsn) as conn:
        found = conn.execute("SELECT tenant_id, state FROM rm.alerts").fetchall()
    assert found == [(SYSTEM_TENANT, "resolved")]


async def test_live_connections_of_two_api_processes_add_up(scratch: Settings) -> None:
    settings = replace(scratch, sample_interval_s=0.2)
    container = Container.build(settings)

    def issue(tenant: str, scopes: list[str]) -> Any:
        context = CommandContext(tenant_id=tenant, actor="test", command="keys.create")
        return container.portal.call(container.identity.issue_key, context, tenant, "k", scopes)

    key, ops = issue("acme", ["live:read", "read"]), issue(SYSTEM_TENANT, ["read", "admin"])
    try:
        with serving(settings) as first, serving(settings) as second:
            async with AsyncExitStack() as stack:
                for url in (first, second):
                    http = await stack.enter_async_context(
                        httpx.AsyncClient(base_url=url, headers=bearer(key.token), timeout=30)
                    )
                    await stack.enter_async_context(http.stream("GET", "/v1/live"))
                operator = await stack.enter_async_context(
                    httpx.AsyncClient(base_url=first, headers=bearer(ops.token), timeout=30)
                )
                await _until_live_connections(operator, 2)
    finally:
        container.close()


async def _until_live_connections(operator: httpx.AsyncClient, count: int) -> None:
    params = {"names": "live_connections"}
    for _ in range(100):
        body = await ok(await operator.get("/v1/metrics", params=params))
        if body["items"][0]["this_minute"] == count:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"live_connections never reached {count}: {body}")


def test_the_store_unavailable_rule_fires_once_the_store_is_back(
    scratch_container: Container,
) -> None:
    """Nothing can be recorded while PostgreSQL is away: the sampler keeps its samples
    and writes them when it is back, and the evaluator's next evaluation fires."""
    c = scratch_container
    sampler = SystemSampler(f"postgresql://nobody@127.0.0.1:{free_port()}/gone", c.events.reader)
    now = datetime.now(UTC)
    away = [s.value for s in sampler.sample(now - timedelta(seconds=30))]
    assert away == [0]  # store_available alone
    sampler.dsn = c.dsn  # the store is back
    catch_up(c, "alerts")
    evaluator = c.evaluator()
    sampler.sample(now)
    taken = c.portal.call(evaluator.evaluate, now)
    rule = AlertRule.built_in_id("store unavailable")
    assert [step for rule_id, step in taken if rule_id == rule] == ["open", "fire"]
    with psycopg.connect(c.dsn) as conn:
        written = conn.execute(
            "SELECT value FROM chronicle_sample_minutes WHERE name = 'store_available'"
            " ORDER BY at, value"
        ).fetchall()
    assert written[0] == (0,)  # the minute the store was away


async def test_a_tenant_sees_the_share_of_its_daily_budget_used(
    api_url: str, container: Container, issue_key: KeyFactory
) -> None:
    tenant = f"t-{uuid.uuid4().hex[:10]}"
    token = issue_key(tenant)
    context = CommandContext(tenant_id=tenant, actor="test", command="budget.set")
    async with httpx.AsyncClient(base_url=api_url, headers=bearer(token), timeout=30) as http:
        params = {"names": "budget_used_ratio"}
        unbounded = await ok(await http.get("/v1/metrics", params=params))
        assert unbounded["items"][0]["this_minute"] is None
        await container.identity.set_budget(context, tenant, 200, 2.0)
        done = await complete_run(http, token, {"input_tokens": 50, "output_tokens": 10})
        position = str((await ok(done))["position"])
        body = await ok(await http.get("/v1/metrics", params=params | {"min_position": position}))
        assert body["items"][0]["this_minute"] == pytest.approx(0.3)  # 60 of 200 tokens
        history = await ok(
            await http.get("/v1/metrics/history", params={"name": "budget_used_ratio"})
        )
        assert history["points"][-1]["value"] == pytest.approx(0.3)
        assert history["points"][0]["value"] == 0  # an hour ago (or at midnight) nothing used
        rule = {"name": "budget", "metric": "budget_used_ratio", "op": ">=", "threshold": 0.8}
        await ok(await http.post("/v1/alert-rules", json=rule | {"window_s": 60}), 201)


def test_samples_past_their_retention_are_forgotten_with_the_metrics_history(
    scratch_container: Container,
) -> None:
    now = datetime.now(UTC)
    with psycopg.connect(scratch_container.dsn) as conn:
        for label, age in (("fresh", timedelta(0)), ("week", timedelta(days=8))):
            write_samples(conn, [Sample("parked_events", label, 1, now - age)])
        write_samples(conn, [Sample("parked_events", "old", 1, now - timedelta(days=91))])
    MetricsRetention(scratch_container.dsn, 7, 90).run(now)
    with psycopg.connect(scratch_container.dsn) as conn:
        kept = conn.execute(
            "SELECT 'minute', label FROM chronicle_sample_minutes UNION ALL"
            " SELECT 'hour', label FROM chronicle_sample_hours"
        ).fetchall()
    assert sorted(kept) == [("hour", "fresh"), ("hour", "week"), ("minute", "fresh")]


def test_the_metrics_cli_shows_the_operator_metrics_for_system(
    servers: Settings, container: Container
) -> None:
    SystemSampler(container.dsn, container.events.reader).sample(datetime.now(UTC))
    done = run_cli(
        servers, "metrics", "--tenant", SYSTEM_TENANT, "--name", "store_available", "--json"
    )
    assert done.returncode == 0, done.stderr
    (item,) = json.loads(done.stdout)["items"]
    assert (item["name"], item["last_24h"]) == ("store_available", 1)  # no outage today
