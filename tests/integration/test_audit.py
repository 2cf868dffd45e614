"""The audit trail: every command, accepted or denied, attributable to an actor and key,
queryable by the tenant's auditors only, and exportable as JSON lines."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from api.bootstrap import Container
from api.http.denials import FAILED_AUTHENTICATIONS_RECORDED_PER_MINUTE
from infrastructure.settings import Settings
from projections.audit import AuditQuery, audit_entries
from tests.integration.cli import run_cli
from tests.integration.conftest import KeyFactory
from tests.integration.test_http_conversations import assert_problem, start

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"


def key_id_of(token: str) -> str:
    return str(uuid.UUID(hex=token.split("_")[1]))


def forged(token: str) -> str:
    """The token's key id with a wrong secret (split on the first two '_': secrets may
    hold one)."""
    return "_".join(token.split("_")[:2]) + "_" + "x" * 43


def tenant_of(container: Container, token: str) -> str:
    owner = container.identity.owner_of(token)
    assert owner is not None
    return owner[0]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def audit(
    http: httpx.AsyncClient, container: Container, token: str, **params: Any
) -> list[dict[str, Any]]:
    """The tenant's entries, once the audit read model has caught up with the log."""
    params.setdefault("min_position", container.events.head())
    response = await http.get("/v1/audit", params=params, headers=bearer(token))
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def test_accepted_and_denied_commands_are_attributed(
    api_url: str, container: Container, issue_key: KeyFactory
) -> None:
    tenant = f"t-{uuid.uuid4().hex[:10]}"
    writer = issue_key(tenant, ("commands:write", "read"))
    reader = issue_key(tenant, ("read",))
    auditor = issue_key(tenant, ("audit:read",))
    stranger = issue_key()
    wrong_secret = forged(writer)
    async with httpx.AsyncClient(base_url=api_url, timeout=30) as http:
        started = await http.post(
            "/v1/conversations",
            json={"title": "Audited"},
            headers=bearer(writer) | {"X-Request-ID": "req-1", "traceparent": TRACEPARENT},
        )
        assert started.status_code == 201, started.text
        cid = started.json()["id"]
        message = {"role": "user", "content": "hi"}
        path = f"/v1/conversations/{cid}/messages"
        assert_problem(await http.post(path, json=message, headers=bearer(reader)), 403)
        assert_problem(await http.post(path, json=message, headers=bearer(stranger)), 404)
        assert_problem(await http.post(path, json=message, headers=bearer(wrong_secret)), 401)
        assert_problem(await http.post(path, json=message, headers=bearer("nonsense")), 401)
        assert (await http.post(path, json=message, headers=bearer(writer))).status_code == 201

        entries = await audit(http, container, auditor)
        assert [(e["action"], e["outcome"], e["status"]) for e in entries] == [
            ("keys.create", "accepted", None),  # the test fixture issued the three keys
            ("keys.create", "accepted", None),
            ("keys.create", "accepted", None),
            ("conversation.start", "accepted", None),
            ("conversation.post_message", "denied", 403),
            ("conversation.post_message", "denied", 401),
            ("conversation.post_message", "accepted", None),
        ]
        first = entries[3]
        assert first["actor"] == f"key:{key_id_of(writer)}"
        assert first["key_id"] == key_id_of(writer) and first["target"] == cid
        assert first["request_id"] == "req-1" and first["trace_id"] == TRACE_ID
        forbidden, unauthenticated = entries[4], entries[5]
        assert forbidden["key_id"] == key_id_of(reader) and forbidden["reason"] == "forbidden"
        assert forbidden["target"] == cid
        assert unauthenticated["key_id"] == key_id_of(writer)  # named by the token, not proven
        assert unauthenticated["reason"] == "unauthenticated"
        for entry in entries:
            assert datetime.fromisoformat(entry["at"]) > datetime.now(UTC) - timedelta(minutes=1)

        # The stranger's 404 is in the stranger's own trail, not in this tenant's.
        stranger_auditor = issue_key(tenant_of(container, stranger), ("audit:read",))
        theirs = await audit(http, container, stranger_auditor, action="conversation.post_message")
        assert [(e["status"], e["reason"], e["target"]) for e in theirs] == [
            (404, "not-found", cid)
        ]


async def test_the_trail_filters_and_pages(
    api_url: str, container: Container, issue_key: KeyFactory
) -> None:
    tenant = f"t-{uuid.uuid4().hex[:10]}"
    one, two = issue_key(tenant, ("commands:write",)), issue_key(tenant, ("commands:write",))
    auditor = issue_key(tenant, ("audit:read",))
    async with httpx.AsyncClient(base_url=api_url, timeout=30) as http:
        before = datetime.now(UTC)
        ids = []
        for token in (one, two, one):
            answer = await http.post("/v1/conversations", json={"t": 1}, headers=bearer(token))
            assert answer.status_code == 400  # invalid: not a command that ran, nor a denial
            answer = await http.post(
                "/v1/conversations", json={"title": "x"}, headers=bearer(token)
            )
            ids.append(answer.json()["id"])
        by_one = await audit(http, container, auditor, actor=f"key:{key_id_of(one)}")
        assert [e["target"] for e in by_one] == [ids[0], ids[2]]
        assert [e["target"] for e in await audit(http, container, auditor, target=ids[1])] == [
            ids[1]
        ]
        starts = await audit(http, container, auditor, action="conversation.start")
        assert len(starts) == 3
        since = await audit(http, container, auditor, since=before.isoformat())
        assert [e["target"] for e in since] == ids
        assert await audit(http, container, auditor, until=before.isoformat()) != []  # keys
        assert await audit(http, container, auditor, since=datetime.now(UTC).isoformat()) == []

        page = await http.get("/v1/audit", params={"limit": 2}, headers=bearer(auditor))
        first = page.json()
        assert len(first["items"]) == 2 and first["next"] is not None
        rest = await http.get(
            "/v1/audit", params={"limit": 500, "after": first["next"]}, headers=bearer(auditor)
        )
        positions = [e["position"] for e in first["items"] + rest.json()["items"]]
        assert positions == sorted(set(positions)) and len(positions) == 6  # 3 keys + 3 starts

        assert_problem(await http.get("/v1/audit", headers=bearer(one)), 403)
        assert_problem(
            await http.get("/v1/audit", params={"since": "yesterday"}, headers=bearer(auditor)),
            400,
        )


async def test_a_command_of_several_events_is_one_entry(
    client: httpx.AsyncClient, container: Container, issue_key: KeyFactory
) -> None:
    cid = (await start(client))["id"]
    run = await client.post("/v1/runs", json={"conversation_id": cid, "agent": "a", "model": "m"})
    run_id = run.json()["id"]
    done = await client.post(f"/v1/runs/{run_id}/complete", json={"content": "answer"})
    assert done.status_code == 200, done.text
    entries = await audit(client, container, client.headers["authorization"].split()[1])
    completions = [e for e in entries if e["action"] == "run.complete"]
    assert [(c["target"], c["events"]) for c in completions] == [(run_id, 2)]


async def test_rate_limit_refusals_are_entries(container: Container, issue_key: KeyFactory) -> None:
    token = issue_key(None, ("read",))
    key_id = uuid.UUID(key_id_of(token))
    await container.identity.record_rate_limited(key_id, "2026-11-22T10:00:00+00:00", 17)
    container.projector("audit").catch_up()
    tenant = container.identity.find_key(key_id).tenant_id
    (rows, _), _ = container.reads.query(
        ("audit",), lambda conn: audit_entries(conn, AuditQuery(tenant, action="rate_limit"), 0, 10)
    )
    assert [(r["actor"], r["outcome"], r["status"]) for r in rows] == [
        (f"key:{key_id}", "denied", 429)
    ]
    assert "17 refused" in rows[0]["reason"]


async def test_export_writes_json_lines_per_tenant_and_time(
    client: httpx.AsyncClient, servers: Settings, container: Container, issue_key: KeyFactory
) -> None:
    begin = datetime.now(UTC)
    cid = (await start(client))["id"]
    tenant = tenant_of(container, client.headers["authorization"].split()[1])
    other = issue_key()
    async with httpx.AsyncClient(base_url=str(client.base_url), headers=bearer(other)) as http:
        await start(http)
    exported = run_cli(servers, "audit", "export", "--tenant", tenant, "--since", begin.isoformat())
    assert exported.returncode == 0, exported.stderr
    lines = [json.loads(line) for line in exported.stdout.splitlines()]
    assert [(e["tenant_id"], e["action"], e["target"]) for e in lines] == [
        (tenant, "conversation.start", cid)
    ]
    everyone = run_cli(servers, "audit", "export", "--since", begin.isoformat())
    tenants = {json.loads(line)["tenant_id"] for line in everyone.stdout.splitlines()}
    assert {tenant, tenant_of(container, other)} <= tenants
    until_begin = run_cli(
        servers, "audit", "export", "--tenant", tenant, "--until", begin.isoformat()
    )
    assert cid not in until_begin.stdout

    wrong = run_cli(servers, "audit", "export", "--format", "csv")
    assert wrong.returncode == 2 and wrong.stdout == ""
    assert "jsonl" in wrong.stderr and len(wrong.stderr.strip().splitlines()) == 1
    backwards = run_cli(
        servers, "audit", "export", "--since", "2026-01-02", "--until", "2026-01-01"
    )
    assert backwards.returncode == 2 and "before" in backwards.stderr


async def test_failed_authentications_are_recorded_up_to_a_bound_per_key(
    api_url: str, container: Container, issue_key: KeyFactory
) -> None:
    tenant = f"t-{uuid.uuid4().hex[:10]}"
    target, bystander = issue_key(tenant), issue_key(tenant)
    auditor = issue_key(tenant, ("audit:read",))

    into_minute = time.time() % 60  # the bound is per clock minute: stay within one
    if into_minute > 40:
        await asyncio.sleep(60.1 - into_minute)
    async with httpx.AsyncClient(base_url=api_url, timeout=30) as http:
        for _ in range(FAILED_AUTHENTICATIONS_RECORDED_PER_MINUTE + 5):
            refused = await http.post("/v1/conversations", json={}, headers=bearer(forged(target)))
            assert refused.status_code == 401
        refused = await http.post("/v1/conversations", json={}, headers=bearer(forged(bystander)))
        assert refused.status_code == 401
        entries = await audit(http, container, auditor, action="conversation.start", limit=500)
    by_key = Counter(e["key_id"] for e in entries if e["reason"] == "unauthenticated")
    assert by_key == {
        key_id_of(target): FAILED_AUTHENTICATIONS_RECORDED_PER_MINUTE,
        key_id_of(bystander): 1,
    }
