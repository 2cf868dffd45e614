"""Read models after an erasure, over the real servers: what they derived from the erased
subject is redacted on its tombstone (history, search, titles, run steps, notifications,
documents), everything else is untouched, the answers say ``null`` (never a 500), and a
rebuild after the erasure makes the same redacted rows."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import psycopg
import pytest
from psycopg.rows import dict_row

from api.bootstrap import Container
from infrastructure.read_models import ensure_projections
from infrastructure.settings import Settings
from projections.registry import PROJECTIONS
from tests.integration.conftest import KeyFactory
from tests.integration.test_audit import bearer

# Each projection's rows of one tenant, in a stable order.
ROWS = {
    "messages": "SELECT * FROM rm.messages WHERE tenant_id = %s ORDER BY position",
    "message_search": "SELECT * FROM rm.message_search WHERE tenant_id = %s ORDER BY position",
    "conversations": "SELECT * FROM rm.conversations WHERE tenant_id = %s ORDER BY id",
    "runs": (
        "SELECT r.*, s.* FROM rm.runs r JOIN rm.run_steps s ON s.run_id = r.id"
        " WHERE r.tenant_id = %s ORDER BY s.position"
    ),
    "notifications": "SELECT * FROM rm.notifications WHERE tenant_id = %s ORDER BY position",
    "documents": "SELECT * FROM rm.documents WHERE tenant_id = %s ORDER BY id",
}


class Tenant:
    """A fresh tenant: its name and an HTTP client with every scope."""

    def __init__(self, name: str, http: httpx.AsyncClient) -> None:
        self.name = name
        self.http = http

    async def ok(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        response = await self.http.request(method, path, **kwargs)
        assert response.status_code in (200, 201), response.text
        body: dict[str, Any] = response.json()
        return body


@pytest.fixture
async def tenant(api_url: str, issue_key: KeyFactory) -> AsyncIterator[Tenant]:
    name = f"t-{uuid.uuid4().hex[:12]}"
    headers = bearer(issue_key(tenant=name))
    async with httpx.AsyncClient(base_url=api_url, headers=headers, timeout=30) as http:
        yield Tenant(name, http)


async def erase(tenant: Tenant, subject: str) -> int:
    """Erase a subject; the position of its tombstone."""
    erased = await tenant.ok("POST", f"/v1/subjects/{subject}/erase", json={"reason": "asked"})
    return int(erased["position"])


def rows(dsn: str, tenant: str, *projections: str) -> dict[str, list[dict[str, Any]]]:
    with psycopg.connect(dsn, row_factory=dict_row) as conn:
        return {name: conn.execute(ROWS[name], (tenant,)).fetchall() for name in projections}


async def rebuilt_rows(
    container: Container, dsn: str, tenant: str, *projections: str
) -> dict[str, list[dict[str, Any]]]:
    """The tenant's rows of each projection after a rebuild of it from the log."""

    def rebuild() -> None:
        for name in projections:
            container.rebuild(name).run()

    await asyncio.to_thread(rebuild)
    with psycopg.connect(dsn) as conn:
        parked = conn.execute(
            "SELECT count(*) FROM chronicle_parked WHERE tenant_id = %s", (tenant,)
        ).fetchone()
    assert parked == (0,), "a rebuild parks no event of an erased subject"
    return rows(dsn, tenant, *projections)


async def post(tenant: Tenant, cid: str, author: str, content: str, role: str = "user") -> str:
    body = {"role": role, "content": content, "author": author}
    posted = await tenant.ok("POST", f"/v1/conversations/{cid}/messages", json=body)
    return str(posted["message_id"])


async def history(tenant: Tenant, cid: str, position: int) -> dict[str, dict[str, Any]]:
    page = await tenant.ok(
        "GET", f"/v1/conversations/{cid}/messages", params={"min_position": position}
    )
    return {m["message_id"]: m for m in page["items"]}


async def found(tenant: Tenant, query: str, position: int) -> set[str]:
    page = await tenant.ok(
        "GET", "/v1/search/messages", params={"q": query, "min_position": position}
    )
    return {hit["message_id"] for hit in page["items"]}


async def test_erasing_a_user_redacts_their_messages_and_notifications_and_a_rebuild_agrees(
    tenant: Tenant, container: Container, servers: Settings
) -> None:
    dsn, marker = str(servers.database_url), f"m{uuid.uuid4().hex[:10]}"
    cid = (await tenant.ok("POST", "/v1/conversations", json={"title": "Plans"}))["id"]
    alices = await post(tenant, cid, "alice", f"{marker} alice's secret")
    bobs = await post(tenant, cid, "bob", f"{marker} bob's reply")
    as_agent = await post(tenant, cid, "alice", f"{marker} an agent's answer", role="assistant")
    for user in ("alice", "bob"):
        notice = {"kind": "mention", "title": f"for {user}", "body": marker, "data": {"n": 1}}
        await tenant.ok("POST", f"/v1/users/{user}/notifications", json=notice)

    position = await erase(tenant, "user:alice")

    messages = await history(tenant, cid, position)
    assert (messages[alices]["content"], messages[alices]["author"]) == (None, None)
    assert (messages[alices]["role"], messages[alices]["erased"]) == ("user", True)
    assert messages[bobs]["content"] == f"{marker} bob's reply"
    assert messages[as_agent]["author"] == "alice" and not messages[as_agent]["erased"]
    assert await found(tenant, marker, position) == {bobs, as_agent}
    assert await found(tenant, "secret", position) == set()
    wait = {"min_position": position}
    (alice_notice,) = (await tenant.ok("GET", "/v1/users/alice/notifications", params=wait))[
        "items"
    ]
    assert (alice_notice["title"], alice_notice["body"], alice_notice["data"]) == (None,) * 3
    (bob_notice,) = (await tenant.ok("GET", "/v1/users/bob/notifications", params=wait))["items"]
    assert bob_notice["title"] == "for bob"

    # Alice's values since are new ones, under a new key: kept, here and in a rebuild.
    body = {"role": "user", "content": f"{marker} alice again", "author": "alice"}
    again = await tenant.ok("POST", f"/v1/conversations/{cid}/messages", json=body)
    later = await history(tenant, cid, again["position"])
    assert later[again["message_id"]]["content"] == f"{marker} alice again"
    assert await found(tenant, "secret", again["position"]) == set()

    names = ("messages", "message_search", "notifications")
    before = rows(dsn, tenant.name, *names)
    assert await rebuilt_rows(container, dsn, tenant.name, *names) == before


async def test_erasing_a_conversation_redacts_its_title_messages_and_runs_and_a_rebuild_agrees(
    tenant: Tenant, container: Container, servers: Settings
) -> None:
    dsn, marker = str(servers.database_url), f"m{uuid.uuid4().hex[:10]}"
    cid = (await tenant.ok("POST", "/v1/conversations", json={"title": f"{marker} plans"}))["id"]
    kept = (await tenant.ok("POST", "/v1/conversations", json={"title": "Kept"}))["id"]
    inside = [await post(tenant, cid, who, f"{marker} by {who}") for who in ("alice", "bob")]
    outside = await post(tenant, kept, "alice", f"{marker} elsewhere")
    run = {"conversation_id": cid, "agent": "planner", "model": "m-1"}
    rid = (await tenant.ok("POST", "/v1/runs", json=run))["id"]
    await tenant.ok("POST", f"/v1/runs/{rid}/thinking", json={"text": "alice's plan"})
    call = {"call_id": "c1", "tool": "search", "arguments": {"q": "alice"}}
    await tenant.ok("POST", f"/v1/runs/{rid}/tools", json=call)
    result = {"error": "nothing on alice", "duration_ms": 3}
    await tenant.ok("POST", f"/v1/runs/{rid}/tools/c1/result", json=result)
    await tenant.ok("POST", f"/v1/runs/{rid}/fail", json={"error": "alice's data broke it"})

    position = await erase(tenant, f"conversation:{cid}")

    wait = {"min_position": position}
    conversation = await tenant.ok("GET", f"/v1/conversations/{cid}", params=wait)
    assert (conversation["title"], conversation["message_count"]) == (None, 2)
    listed = await tenant.ok("GET", "/v1/conversations", params=wait)
    assert {c["id"]: c["title"] for c in listed["items"]} == {cid: None, kept: "Kept"}
    messages = await history(tenant, cid, position)
    assert [(messages[m]["content"], messages[m]["erased"]) for m in inside] == [(None, True)] * 2
    assert await found(tenant, marker, position) == {outside}
    timeline = await tenant.ok("GET", f"/v1/runs/{rid}", params=wait)
    assert timeline["error"] is None and timeline["state"] == "failed"
    assert [s["detail"] for s in timeline["steps"][1:]] == [
        {"text": None},
        {"call_id": "c1", "tool": "search", "arguments": None},
        {"call_id": "c1", "result": None, "error": None, "duration_ms": 3},
        {"error": None},
    ]
    assert (await tenant.ok("GET", f"/v1/conversations/{cid}/runs", params=wait))["items"]

    names = ("conversations", "messages", "message_search", "runs")
    before = rows(dsn, tenant.name, *names)
    assert await rebuilt_rows(container, dsn, tenant.name, *names) == before


async def test_erasing_a_document_redacts_its_title_and_content_and_a_rebuild_agrees(
    tenant: Tenant, container: Container, servers: Settings
) -> None:
    dsn = str(servers.database_url)
    made = {"title": "Alice's diary", "content": "dear diary"}
    did = (await tenant.ok("POST", "/v1/documents", json=made))["id"]
    kept = (await tenant.ok("POST", "/v1/documents", json={"title": "Kept", "content": "x"}))["id"]
    op = {"base_revision": 0, "op": [10, ", today"], "author": "alice"}
    await tenant.ok("POST", f"/v1/documents/{did}/operations", json=op)

    position = await erase(tenant, f"document:{did}")

    listed = await tenant.ok("GET", "/v1/documents", params={"min_position": position})
    by_id = {d["id"]: d for d in listed["items"]}
    assert (by_id[did]["title"], by_id[did]["length"], by_id[did]["revision"]) == (None, None, 1)
    assert (by_id[kept]["title"], by_id[kept]["length"]) == ("Kept", 1)
    before = rows(dsn, tenant.name, "documents")
    assert {r["id"]: r["content"] for r in before["documents"]} == {
        uuid.UUID(did): None,
        uuid.UUID(kept): "x",
    }
    assert await rebuilt_rows(container, dsn, tenant.name, "documents") == before


def test_a_database_whose_personal_columns_were_not_null_may_hold_null_after_a_start(
    scratch: Settings,
) -> None:
    """Read models made before erasure had NOT NULL personal columns; a start drops it."""
    dsn = str(scratch.database_url)
    ensure_projections(dsn, PROJECTIONS.values())
    relaxed = [(p.name, c) for p in PROJECTIONS.values() for c in p.nullable_columns]
    assert {name for name, _ in relaxed} == {
        "messages",
        "message_search",
        "conversations",
        "notifications",
        "documents",
    }
    not_null = (
        "SELECT count(*) AS n FROM information_schema.columns WHERE table_schema = %s"
        " AND table_name = %s AND column_name = %s AND is_nullable = 'NO'"
    )
    with psycopg.connect(dsn, autocommit=True, row_factory=dict_row) as admin:
        for name, column in relaxed:  # as the version before made them
            admin.execute(
                f"ALTER TABLE rm_{name}_g1.{column.table} ALTER COLUMN {column.name} SET NOT NULL"
            )
        ensure_projections(dsn, PROJECTIONS.values())  # a start of this version
        for name, column in relaxed:
            found = admin.execute(not_null, (f"rm_{name}_g1", column.table, column.name))
            assert found.fetchone() == {"n": 0}, (name, column)
