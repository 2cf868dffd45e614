"""Usage and budgets: tokens and cost of completed runs per tenant and key per day, and
new runs refused with 429 budget-exceeded once a tenant has used its daily budget, or with
503 usage-unavailable while its usage events are parked."""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import Any

import httpx
from litestar.testing import TestClient

from api.bootstrap import Container
from api.http.app import create_app
from application.context import CommandContext
from domain.identity import SCOPES
from infrastructure.repairs import skip
from infrastructure.settings import Settings
from tests.integration.cli import run_cli
from tests.integration.conftest import KeyFactory, serving
from tests.integration.test_audit import audit, bearer, key_id_of
from tests.integration.test_http_conversations import assert_problem
from tests.integration.test_parking import catch_up, conversation
from tests.integration.test_parking import complete_run as complete_unchecked


async def complete_run(
    http: httpx.AsyncClient, token: str, usage: dict[str, Any]
) -> httpx.Response:
    """Start a run in a new conversation and complete it with ``usage``; the start's answer
    if it was refused."""
    headers = bearer(token)
    cid = (await http.post("/v1/conversations", json={"title": "u"}, headers=headers)).json()["id"]
    started = await http.post(
        "/v1/runs", json={"conversation_id": cid, "agent": "a", "model": "m"}, headers=headers
    )
    if started.status_code != 201:
        return started
    return await http.post(
        f"/v1/runs/{started.json()['id']}/complete",
        json={"content": "done", "usage": usage},
        headers=headers,
    )


async def usage_now(http: httpx.AsyncClient, container: Container, token: str) -> dict[str, Any]:
    response = await http.get(
        "/v1/usage", params={"min_position": container.events.head()}, headers=bearer(token)
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_usage_is_summed_per_tenant_and_key(
    api_url: str, container: Container, issue_key: KeyFactory
) -> None:
    tenant = f"t-{uuid.uuid4().hex[:10]}"
    one, two = issue_key(tenant), issue_key(tenant)
    async with httpx.AsyncClient(base_url=api_url, timeout=30) as http:
        for token, usage in (
            (one, {"input_tokens": 100, "output_tokens": 20, "cost_usd": 0.5}),
            (one, {"input_tokens": 10, "output_tokens": 5, "cost_usd": 0.25}),
            (two, {"input_tokens": 1, "output_tokens": 2, "cost_usd": 0.125}),
        ):
            assert (await complete_run(http, token, usage)).status_code == 200
        body = await usage_now(http, container, one)
        assert (body["runs"], body["tokens"], body["cost_usd"]) == (3, 138, 0.875)
        assert (body["input_tokens"], body["output_tokens"]) == (111, 27)
        by_key = {k["key_id"]: (k["runs"], k["cost_usd"]) for k in body["keys"]}
        assert by_key == {key_id_of(one): (2, 0.75), key_id_of(two): (1, 0.125)}
        assert body["budget"] == {"tokens": None, "cost_usd": None}
        assert body["remaining"] == {"tokens": None, "cost_usd": None}
        assert body["exceeded"] is False

        outsider = await usage_now(http, container, issue_key())
        assert (outsider["runs"], outsider["tokens"], outsider["keys"]) == (0, 0, [])
        assert_problem(
            await http.get("/v1/usage", headers=bearer(issue_key(None, ("live:read",)))), 403
        )


async def test_new_runs_are_refused_over_the_daily_budget(
    api_url: str, container: Container, issue_key: KeyFactory
) -> None:
    tenant = f"t-{uuid.uuid4().hex[:10]}"
    token, auditor = issue_key(tenant), issue_key(tenant, ("audit:read",))
    context = CommandContext(tenant_id=tenant, actor="test", command="budget.set")
    await container.identity.set_budget(context, tenant, 100, None)
    neighbour = issue_key()
    async with httpx.AsyncClient(base_url=api_url, timeout=30) as http:
        first = await complete_run(http, token, {"input_tokens": 60, "output_tokens": 0})
        assert first.status_code == 200
        body = await usage_now(http, container, token)
        assert body["remaining"] == {"tokens": 40, "cost_usd": None} and not body["exceeded"]
        second = await complete_run(http, token, {"input_tokens": 50, "output_tokens": 0})
        assert second.status_code == 200  # under budget when it started
        body = await usage_now(http, container, token)
        assert body["remaining"]["tokens"] == 0 and body["exceeded"]

        refused = await complete_run(http, token, {})
        problem = assert_problem(refused, 429)
        assert problem["type"].endswith("/budget-exceeded")
        assert 1 <= int(refused.headers["retry-after"]) <= 86400
        assert (await complete_run(http, neighbour, {"input_tokens": 500})).status_code == 200

        denied = await audit(http, container, auditor, action="run.start")
        assert [(e["outcome"], e["reason"]) for e in denied][-1] == ("denied", "budget-exceeded")

        await container.identity.set_budget(context, tenant, None, None)  # lifted
        assert (await complete_run(http, token, {})).status_code == 200


async def test_the_server_default_budget_applies_where_a_tenant_sets_none(
    servers: Settings, container: Container, issue_key: KeyFactory
) -> None:
    token = issue_key()
    with serving(replace(servers, daily_cost_budget_usd=1.0)) as url:
        async with httpx.AsyncClient(base_url=url, timeout=30) as http:
            spent = await complete_run(http, token, {"cost_usd": 1.0})
            assert spent.status_code == 200
            body = await usage_now(http, container, token)
            assert body["budget"] == {"tokens": None, "cost_usd": 1.0} and body["exceeded"]
            assert_problem(await complete_run(http, token, {}), 429)


def test_budgets_are_set_by_the_cli(
    servers: Settings, container: Container, issue_key: KeyFactory
) -> None:
    tenant = f"t-{uuid.uuid4().hex[:10]}"
    issue_key(tenant)
    done = run_cli(
        servers, "budget", "set", "--tenant", tenant, "--tokens", "5000", "--cost-usd", "2.5"
    )
    assert done.returncode == 0, done.stderr
    budget = container.budgets.of(tenant)
    assert (budget.daily_tokens, budget.daily_cost_usd) == (5000, 2.5)
    unknown = run_cli(servers, "budget", "set", "--tenant", "no-such-tenant", "--tokens", "1")
    assert unknown.returncode != 0 and "no tenant" in unknown.stderr
    negative = run_cli(servers, "budget", "set", "--tenant", tenant, "--tokens", "-1")
    assert negative.returncode == 2
    assert container.budgets.of(tenant).daily_tokens == 5000  # nothing half-written


async def test_new_runs_wait_while_the_tenants_usage_events_are_parked(scratch: Settings) -> None:
    """A budget cannot be checked against a count that misses parked usage events: new
    runs get 503 usage-unavailable until an operator deals with them."""
    container = Container.build(scratch)
    try:
        tenant, neighbour = "acme", "other"
        keys = {
            t: (
                await container.identity.issue_key(
                    CommandContext(tenant_id=t, actor="test", command="keys.create"),
                    t,
                    "k",
                    list(SCOPES),
                )
            ).token
            for t in (tenant, neighbour)
        }
        context = CommandContext(tenant_id=tenant, actor="test", command="budget.set")
        await container.identity.set_budget(context, tenant, 1_000_000, None)
        chat = conversation(container, tenant)
        usage: dict[str, float] = {"input_tokens": 4611686018427387904}
        complete_unchecked(container, tenant, chat, usage)
        overflowing = complete_unchecked(container, tenant, chat, usage)  # the sum overflows
        catch_up(container)

        with TestClient(create_app(scratch)) as client:

            def start_run(token: str) -> httpx.Response:
                auth = bearer(token)
                cid = client.post("/v1/conversations", json={"title": "t"}, headers=auth)
                body = {"conversation_id": cid.json()["id"], "agent": "a", "model": "m"}
                return client.post("/v1/runs", json=body, headers=auth)

            refused = start_run(keys[tenant])
            problem = assert_problem(refused, 503)
            assert problem["type"].endswith("/usage-unavailable")
            assert int(refused.headers["retry-after"]) > 0
            assert (
                client.get("/v1/usage", headers=bearer(keys[tenant])).json()["parked_events"] == 1
            )
            assert start_run(keys[neighbour]).status_code == 201  # no budget, nothing parked
            assert (
                client.get("/v1/usage", headers=bearer(keys[neighbour])).json()["parked_events"]
                == 0
            )

            skip(container.dsn, "usage", overflowing)  # an operator's decision
            assert_problem(start_run(keys[tenant]), 429)  # counted again: over its budget
    finally:
        container.close()
