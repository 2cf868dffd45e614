"""Alert rules and alerts on PostgreSQL: a rule on failed runs goes pending, fires after
``for``, is acknowledged over HTTP and resolves once the window clears, each step an event
and a row of GET /v1/alerts (and on /v1/live); tenants are apart; bad input is a 400."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import httpx
import psycopg
import pytest

from api.bootstrap import Container
from application.alerts import Evaluator
from infrastructure.alert_evaluator import Leadership
from tests.integration.conftest import KeyFactory
from tests.integration.sse import collect
from tests.integration.test_http_conversations import assert_problem, start

RULE: dict[str, Any] = {"name": "runs failing", "metric": "runs_failed", "op": ">=", "threshold": 2}
RULE |= {"window_s": 300, "for_s": 60, "severity": "warning", "labels": {"team": "agents"}}


async def ok(response: httpx.Response, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    return body


async def fail_runs(client: httpx.AsyncClient, count: int) -> int:
    """Fail ``count`` new runs; the position the metrics history has then reached."""
    cid = (await start(client))["id"]
    position = 0
    for _ in range(count):
        body = {"conversation_id": cid, "agent": "planner", "model": "m-1"}
        run = await ok(await client.post("/v1/runs", json=body), 201)
        failed = await ok(await client.post(f"/v1/runs/{run['id']}/fail", json={"error": "x"}))
        position = failed["position"]
    await ok(await client.get("/v1/metrics", params={"min_position": position}))
    return position


async def create_rule(client: httpx.AsyncClient, **changes: Any) -> dict[str, Any]:
    response = await client.post("/v1/alert-rules", json=RULE | changes)
    created = await ok(response, 201)
    assert response.headers["location"] == f"/v1/alert-rules/{created['id']}"
    params = {"min_position": created["position"]}
    await ok(await client.get(f"/v1/alert-rules/{created['id']}", params=params))
    return created


async def alerts_in(client: httpx.AsyncClient, state: str, count: int = 1) -> list[dict[str, Any]]:
    """The tenant's alerts in ``state``, once the read model shows ``count`` of them."""
    for _ in range(250):
        items: list[dict[str, Any]] = (
            await ok(await client.get("/v1/alerts", params={"state": state}))
        )["items"]
        if len(items) >= count:
            return items
        await asyncio.sleep(0.02)
    raise AssertionError(f"no {state} alert shown")


def steps_of(taken: Sequence[tuple[UUID, str]], rule: dict[str, Any]) -> list[str]:
    """The steps an evaluation took for ``rule`` (it evaluates every tenant's rules)."""
    return [step for rule_id, step in taken if str(rule_id) == rule["id"]]


@pytest.fixture
def evaluator(container: Container, projecting: None) -> Evaluator:
    return container.evaluator()


async def test_an_alert_goes_pending_fires_is_acknowledged_and_resolves(
    client: httpx.AsyncClient, container: Container, evaluator: Evaluator
) -> None:
    rule = await create_rule(client)
    await fail_runs(client, 2)
    t0 = datetime.now(UTC)

    def steps(at: datetime) -> list[str]:
        return steps_of(container.portal.call(evaluator.evaluate, at), rule)

    assert steps(t0) == ["open"]
    (pending,) = await alerts_in(client, "pending")
    assert (pending["rule_id"], pending["value"], pending["fired_at"]) == (rule["id"], 2, None)
    assert steps(t0 + timedelta(seconds=30)) == []
    assert steps(t0 + timedelta(seconds=60)) == ["fire"]
    (firing,) = await alerts_in(client, "firing")
    alert_id = firing["alert_id"]
    acknowledged = await ok(
        await client.post(f"/v1/alerts/{alert_id}/acknowledge", json={"note": "looking"})
    )
    again = await client.post(f"/v1/alerts/{alert_id}/acknowledge", json={})
    assert_problem(again, 409)
    await ok(await client.get("/v1/alerts", params={"min_position": acknowledged["position"]}))
    (seen,) = await alerts_in(client, "acknowledged")
    assert seen["note"] == "looking" and seen["acknowledged_by"].startswith("key:")
    calm = t0 + timedelta(seconds=400)  # the failures have left the 300 s window
    assert steps(calm) == []
    assert steps(calm + timedelta(seconds=60)) == ["resolve"]
    (resolved,) = await alerts_in(client, "resolved")
    assert resolved["value"] == 0 and resolved["resolved_at"] is not None
    stream = await ok(await client.get(f"/v1/streams/{alert_id}/events"))
    assert [e["type"] for e in stream["items"]] == [
        "AlertPending",
        "AlertFired",
        "AlertAcknowledged",
        "AlertResolved",
    ]
    assert [e["metadata"]["actor"] for e in stream["items"]][::3] == ["alerts", "alerts"]


async def test_a_restarted_evaluator_opens_no_second_alert(
    client: httpx.AsyncClient, container: Container, evaluator: Evaluator
) -> None:
    rule = await create_rule(client, for_s=0)
    await fail_runs(client, 2)
    now = datetime.now(UTC)
    assert steps_of(container.portal.call(evaluator.evaluate, now), rule) == ["open", "fire"]
    await alerts_in(client, "firing")
    restarted = container.evaluator()
    taken = container.portal.call(restarted.evaluate, now + timedelta(seconds=15))
    assert steps_of(taken, rule) == []
    assert len((await ok(await client.get("/v1/alerts")))["items"]) == 1


async def test_one_evaluator_evaluates_at_a_time_and_another_takes_over(
    client: httpx.AsyncClient, container: Container, projecting: None
) -> None:
    rule = await create_rule(client, for_s=0)
    await fail_runs(client, 2)
    first, second = container.alert_evaluator(), container.alert_evaluator()
    now = datetime.now(UTC)
    try:
        assert first.evaluate_once(now) and not second.evaluate_once(now)
        (firing,) = await alerts_in(client, "firing")
        assert firing["rule_id"] == rule["id"]
        first.stop()  # its lock goes with its connection
        assert second.evaluate_once(now + timedelta(seconds=15))
        assert len((await ok(await client.get("/v1/alerts")))["items"]) == 1
    finally:
        first.stop()
        second.stop()


def test_the_evaluators_lock_is_held_by_one_and_lost_with_its_connection(
    container: Container,
) -> None:
    key = 0x7E57_0001  # not the evaluator's own: other tests' evaluators stay apart
    one, other = Leadership(container.dsn, key), Leadership(container.dsn, key)
    try:
        assert one.held() and not other.held() and one.held()
        with psycopg.connect(container.dsn, autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_locks"
                " WHERE locktype = 'advisory' AND objid = %s",
                (key,),
            )
        assert not one.held()  # its session went, and the lock with it
        assert other.held() and not one.held()
    finally:
        one.release()
        other.release()


async def test_alerts_are_followed_live(
    client: httpx.AsyncClient, container: Container, evaluator: Evaluator
) -> None:
    await create_rule(client, for_s=0)
    position = await fail_runs(client, 2)
    container.portal.call(evaluator.evaluate, datetime.now(UTC))
    frames = await collect(client, 2, params={"cursor": position, "subjects": "alert.*"})
    assert [frame.event for frame in frames] == ["AlertPending", "AlertFired"]


async def test_rules_and_alerts_are_the_tenants_own(
    client: httpx.AsyncClient,
    api_url: str,
    issue_key: KeyFactory,
    container: Container,
    evaluator: Evaluator,
) -> None:
    rule = await create_rule(client, for_s=0)
    await fail_runs(client, 2)
    container.portal.call(evaluator.evaluate, datetime.now(UTC))
    (alert,) = await alerts_in(client, "firing")
    headers = {"Authorization": f"Bearer {issue_key()}"}
    async with httpx.AsyncClient(base_url=api_url, headers=headers, timeout=30) as other:
        assert (await ok(await other.get("/v1/alerts")))["items"] == []
        assert (await ok(await other.get("/v1/alert-rules")))["items"] == []
        assert_problem(await other.get(f"/v1/alert-rules/{rule['id']}"), 404)
        assert_problem(await other.delete(f"/v1/alert-rules/{rule['id']}"), 404)
        ack = await other.post(f"/v1/alerts/{alert['alert_id']}/acknowledge", json={})
        assert_problem(ack, 404)


async def test_a_rule_is_updated_muted_and_deleted(client: httpx.AsyncClient) -> None:
    rule = await create_rule(client)
    path = f"/v1/alert-rules/{rule['id']}"
    changed = RULE | {"threshold": 5, "severity": "critical", "labels": {}}
    stale = await client.put(path, json=changed, headers={"If-Match": '"7"'})
    assert_problem(stale, 412)
    await ok(await client.put(path, json=changed, headers={"If-Match": '"1"'}))
    until = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    muted = await ok(await client.post(f"{path}/mute", json={"until": until}))
    shown = await client.get(path, params={"min_position": muted["position"]})
    assert shown.headers["etag"] == '"3"'
    assert (shown.json()["threshold"], shown.json()["severity"]) == (5, "critical")
    assert datetime.fromisoformat(shown.json()["muted_until"]) == datetime.fromisoformat(until)
    deleted = await ok(await client.delete(f"/v1/alert-rules/{rule['id']}"))
    params = {"min_position": deleted["position"]}
    assert_problem(await client.get(f"/v1/alert-rules/{rule['id']}", params=params), 404)
    assert (await ok(await client.get("/v1/alert-rules", params=params)))["items"] == []
    assert_problem(await client.delete(f"/v1/alert-rules/{rule['id']}"), 404)


async def test_a_mute_until_a_time_before_utcs_first_moment_mutes_nothing(
    client: httpx.AsyncClient,
) -> None:
    path = f"/v1/alert-rules/{(await create_rule(client))['id']}"
    muted = await ok(await client.post(f"{path}/mute", json={"until": "0001-01-01T00:00:00+01:15"}))
    shown = (await client.get(path, params={"min_position": muted["position"]})).json()
    assert shown["muted_until"].startswith("0001-01-01T00:00:00")


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"metric": "tokens_total"}, "metric"),
        ({"metric": "no such metric"}, "metric"),
        ({"op": "=>"}, "op"),
        ({"threshold": 1e16}, "threshold"),
        ({"window_s": 59}, "window_s"),
        ({"window_s": 7 * 24 * 3600 + 1}, "window_s"),
        ({"for_s": -1}, "for_s"),
        ({"severity": "fatal"}, "severity"),
        ({"labels": {"bad key": "x"}}, "labels"),
        ({"name": ""}, "name"),
        ({"colour": "red"}, None),
    ],
)
async def test_a_bad_rule_is_a_400_naming_the_field(
    client: httpx.AsyncClient, changes: dict[str, Any], field: str | None
) -> None:
    response = await client.post("/v1/alert-rules", json=RULE | changes)
    body = assert_problem(response, 400)
    if field is not None:
        assert any(field in error["field"] for error in body["errors"]), body


async def test_rules_are_written_with_admin_and_alerts_acknowledged_with_commands_write(
    api_url: str, issue_key: KeyFactory
) -> None:
    headers = {"Authorization": f"Bearer {issue_key(scopes=('read', 'commands:write'))}"}
    async with httpx.AsyncClient(base_url=api_url, headers=headers, timeout=30) as http:
        assert_problem(await http.post("/v1/alert-rules", json=RULE), 403)
        await ok(await http.get("/v1/alert-rules"))
