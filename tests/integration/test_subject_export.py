"""A data subject's export over the real servers: every personal value of the tenant bound
to the subject, opened, with its event; nothing of another subject or another tenant."""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import psycopg

from api.bootstrap import Container
from infrastructure.settings import Settings
from infrastructure.subject_values import PostgresPersonalValues
from tests.integration.cli import run_cli
from tests.integration.conftest import KeyFactory
from tests.integration.test_erasure import FORGET_DEADLINE_S
from tests.integration.test_http_conversations import PROBLEM

Conversation = tuple[str, str]  # its id, and the marker in its values


def new_tenant() -> str:
    return f"t-{uuid.uuid4().hex[:12]}"


@asynccontextmanager
async def as_tenant(
    api_url: str, issue_key: KeyFactory, tenant: str, scopes: tuple[str, ...] | None = None
) -> AsyncIterator[httpx.AsyncClient]:
    key = issue_key(tenant) if scopes is None else issue_key(tenant, scopes)
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=api_url, headers=headers, timeout=30) as http:
        yield http


async def chat(http: httpx.AsyncClient, *authors: str) -> Conversation:
    """A conversation with a message by each author, each message's content naming its
    author after a marker of the conversation's own."""
    marker = f"marker-{uuid.uuid4().hex}"
    started = await http.post("/v1/conversations", json={"title": f"{marker} title"})
    assert started.status_code == 201, started.text
    cid = started.json()["id"]
    for author in authors:
        posted = await http.post(
            f"/v1/conversations/{cid}/messages",
            json={"role": "user", "content": f"{marker} by {author}", "author": author},
        )
        assert posted.status_code == 201, posted.text
    return cid, marker


async def export(http: httpx.AsyncClient, subject: str) -> httpx.Response:
    return await http.get(f"/v1/subjects/{subject}/export")


def contents(answer: dict[str, Any]) -> list[Any]:
    return [v["fields"].get("content") for v in answer["values"] if "content" in v["fields"]]


async def test_a_users_export_holds_their_messages_and_no_one_elses(
    api_url: str, issue_key: KeyFactory
) -> None:
    tenant = new_tenant()
    async with as_tenant(api_url, issue_key, tenant) as http:
        cid, marker = await chat(http, "alice", "bob")
        answer = await export(http, "user:alice")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["subject"], body["tenant"]) == ("user:alice", tenant)
    assert body["exported_at"].endswith("Z")
    (value,) = body["values"]
    assert value["fields"] == {"content": f"{marker} by alice", "author": "alice"}
    assert value["unreadable"] == {}
    assert (value["type"], value["aggregate_id"], value["version"]) == ("MessagePosted", cid, 2)
    assert value["position"] > 0 and value["recorded_at"].endswith("Z")
    assert f"{marker} by bob" not in answer.text


async def test_a_conversations_export_holds_its_title_and_every_message_in_order(
    api_url: str, issue_key: KeyFactory
) -> None:
    async with as_tenant(api_url, issue_key, new_tenant()) as http:
        cid, marker = await chat(http, "alice", "bob")
        answer = await export(http, f"conversation:{cid}")
    assert answer.status_code == 200, answer.text
    values = answer.json()["values"]
    assert [(v["type"], v["version"]) for v in values] == [
        ("ConversationStarted", 1),
        ("MessagePosted", 2),
        ("MessagePosted", 3),
    ]
    assert values[0]["fields"] == {"title": f"{marker} title"}
    assert contents(answer.json()) == [f"{marker} by alice", f"{marker} by bob"]
    assert [v["position"] for v in values] == sorted(v["position"] for v in values)


async def test_another_tenants_subject_of_the_same_name_is_never_exported(
    api_url: str, issue_key: KeyFactory
) -> None:
    ours, theirs, neither = new_tenant(), new_tenant(), new_tenant()
    async with as_tenant(api_url, issue_key, ours) as http:
        _, our_marker = await chat(http, "alice")
        cid, _ = await chat(http, "bob")
    async with as_tenant(api_url, issue_key, theirs) as http:
        _, their_marker = await chat(http, "alice")
        answer = await export(http, "user:alice")
        container_of_ours = await export(http, f"conversation:{cid}")
    assert answer.status_code == 200, answer.text
    assert contents(answer.json()) == [f"{their_marker} by alice"]
    assert our_marker not in answer.text
    assert container_of_ours.status_code == 404
    async with as_tenant(api_url, issue_key, neither) as http:
        refused = await export(http, "user:alice")
    assert refused.status_code == 404
    assert refused.headers["content-type"].startswith(PROBLEM)
    assert refused.json()["type"].endswith("/not-found")
    assert "alice" not in json.dumps(refused.json().get("errors", []))


async def test_an_unknown_subject_is_not_found_and_a_malformed_one_is_refused(
    api_url: str, issue_key: KeyFactory
) -> None:
    async with as_tenant(api_url, issue_key, new_tenant()) as http:
        unknown = await export(http, f"document:{uuid.uuid4()}")
        malformed = await export(http, "planet:mars")
    assert unknown.status_code == 404
    assert unknown.json()["type"].endswith("/not-found")
    assert malformed.status_code == 400  # the path parameter's pattern, as documented
    assert malformed.json()["errors"][0]["field"] == "subject"


async def test_the_export_needs_the_admin_scope(api_url: str, issue_key: KeyFactory) -> None:
    tenant = new_tenant()
    async with as_tenant(api_url, issue_key, tenant) as http:
        await chat(http, "alice")
    lacking = ("commands:write", "read", "live:read", "audit:read", "tokens:write")
    async with as_tenant(api_url, issue_key, tenant, lacking) as http:
        refused = await export(http, "user:alice")
    assert refused.status_code == 403
    assert refused.headers["content-type"].startswith(PROBLEM)


def key_ids(dsn: str, tenant: str, subject: str) -> list[str]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT key_id FROM chronicle_subject_keys WHERE tenant_id = %s AND subject = %s",
            (tenant, subject),
        ).fetchall()
    return [row[0].hex for row in rows]


async def test_a_key_id_written_in_another_field_does_not_bind_the_event(
    api_url: str, issue_key: KeyFactory, servers: Settings
) -> None:
    tenant = new_tenant()
    async with as_tenant(api_url, issue_key, tenant) as http:
        cid, _ = await chat(http, "alice")
        assert servers.database_url
        (key_id,) = key_ids(servers.database_url, tenant, "user:alice")
        submitted = await http.post(
            "/v1/tasks", json={"type": "echo", "payload": {"mentions": key_id}}
        )
        assert submitted.status_code == 201, submitted.text
        answer = await export(http, "user:alice")
    assert [v["aggregate_id"] for v in answer.json()["values"]] == [cid]


async def test_values_are_read_in_bounded_batches_and_all_of_them_given(
    api_url: str, issue_key: KeyFactory, container: Container, servers: Settings
) -> None:
    tenant = new_tenant()
    async with as_tenant(api_url, issue_key, tenant) as http:
        cid, _ = await chat(http, *["alice", "bob"] * 4)
    assert servers.database_url
    ids = key_ids(servers.database_url, tenant, "user:alice")
    pages = PostgresPersonalValues(container.events.pool, container.store.personal, batch=2)
    values = list(pages.sealed_with(tenant, ids))
    assert [(v.aggregate_id, v.version) for v in values] == [
        (uuid.UUID(cid), version) for version in (2, 4, 6, 8)
    ]


async def test_the_cli_prints_the_export_and_refuses_bad_input_in_one_line(
    api_url: str, issue_key: KeyFactory, servers: Settings
) -> None:
    tenant = new_tenant()
    async with as_tenant(api_url, issue_key, tenant) as http:
        cid, marker = await chat(http, "alice", "bob")
        answer = await export(http, "user:alice")

    async def run(*args: str) -> subprocess.CompletedProcess[str]:
        return await asyncio.to_thread(run_cli, servers, "subjects", "export", *args)

    done = await run("user:alice", "--tenant", tenant)
    assert done.returncode == 0, done.stderr
    printed = json.loads(done.stdout)
    assert (printed["subject"], printed["tenant"]) == ("user:alice", tenant)
    assert contents(printed) == [f"{marker} by alice"]
    assert printed["values"][0]["aggregate_id"] == cid
    assert printed["values"] == answer.json()["values"]

    for args, code in (
        (["user:nobody", "--tenant", tenant], 1),
        (["planet:mars", "--tenant", tenant], 2),
        (["user:alice", "--tenant", "Not A Tenant"], 2),
    ):
        refused = await run(*args)
        assert refused.returncode == code, (args, refused.stdout, refused.stderr)
        assert refused.stdout == "" and len(refused.stderr.strip().splitlines()) == 1, args


async def test_after_an_erasure_the_subject_is_gone_and_its_values_read_as_erased(
    api_url: str, issue_key: KeyFactory
) -> None:
    async with as_tenant(api_url, issue_key, new_tenant()) as http:
        cid, marker = await chat(http, "alice", "bob")
        erased = await http.post("/v1/subjects/user:alice/erase", json={"reason": "asked"})
        assert erased.status_code == 200, erased.text
        gone = await export(http, "user:alice")
        deadline = time.monotonic() + FORGET_DEADLINE_S  # this process forgets the keys
        while True:
            answer = await export(http, f"conversation:{cid}")
            alice = answer.json()["values"][1]
            if alice["unreadable"] or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.05)
    assert gone.status_code == 404
    assert alice["fields"] == {"content": None, "author": None}
    assert alice["unreadable"] == {"content": "erased", "author": "erased"}
    assert contents(answer.json())[1:] == [f"{marker} by bob"]
    assert answer.json()["values"][2]["unreadable"] == {}
