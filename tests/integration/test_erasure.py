"""Erasure of data subjects over the real servers: the subject's keys destroyed with the
record of it, its values read as erased on every API process within a second (history,
live replay), other subjects' values untouched, snapshots bound to it dropped, the audit
chain intact; 404 for an unknown subject, 409 for erasing twice, 403 without ``admin``."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg

from api.bootstrap import Container
from infrastructure.privacy_retention import PrivacyRetention
from infrastructure.settings import Settings
from tests.integration.cli import run_cli
from tests.integration.conftest import KeyFactory, serving
from tests.integration.sse import collect
from tests.integration.test_audit import bearer
from tests.integration.test_http_conversations import assert_problem
from tests.integration.test_privacy import dump
from tests.integration.test_tasks import claim, kind, submit, task_view

FORGET_DEADLINE_S = 1.0
ERASED = {"content": "erased", "author": "erased"}


async def conversation_with(client: httpx.AsyncClient, marker: str) -> tuple[str, int]:
    """A conversation with a message of alice's and one of bob's; its id and last position."""
    started = await client.post("/v1/conversations", json={"title": f"{marker} title"})
    assert started.status_code == 201, started.text
    cid = started.json()["id"]
    position = 0
    for author in ("alice", "bob"):
        posted = await client.post(
            f"/v1/conversations/{cid}/messages",
            json={"role": "user", "content": f"{marker} by {author}", "author": author},
        )
        assert posted.status_code == 201, posted.text
        position = posted.json()["position"]
    return cid, position


async def stream(http: httpx.AsyncClient, cid: str) -> list[dict[str, Any]]:
    answered = await http.get(f"/v1/streams/{cid}/events")
    assert answered.status_code == 200, answered.text
    items: list[dict[str, Any]] = answered.json()["items"]
    return items


async def erased_within(http: httpx.AsyncClient, cid: str, seconds: float) -> float | None:
    """How long until alice's message reads as erased on this process (polling)."""
    began = time.monotonic()
    while (waited := time.monotonic() - began) < seconds:
        if (await stream(http, cid))[1]["data"].get("_privacy") == ERASED:
            return waited
        await asyncio.sleep(0.02)
    return None


def keys_of(dsn: str, tenant: str, subject: str) -> int:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            "SELECT count(*) FROM chronicle_subject_keys WHERE tenant_id = %s AND subject = %s",
            (tenant, subject),
        ).fetchone()
    assert row is not None
    return int(row[0])


async def test_erasing_a_user_makes_their_values_erased_on_every_process_within_a_second(
    client: httpx.AsyncClient, servers: Settings, issue_key: KeyFactory
) -> None:
    marker = f"marker-{uuid.uuid4().hex}"
    cid, _ = await conversation_with(client, marker)
    before = await stream(client, cid)
    tenant = before[0]["metadata"]["tenant_id"]
    assert before[1]["data"]["content"] == f"{marker} by alice"
    assert servers.database_url and keys_of(servers.database_url, tenant, "user:alice") == 1

    with serving(servers) as other_url:
        async with httpx.AsyncClient(
            base_url=other_url, headers=client.headers, timeout=30
        ) as other:
            assert (await stream(other, cid))[1]["data"]["content"] == f"{marker} by alice"
            erased = await client.post(
                "/v1/subjects/user:alice/erase", json={"reason": "the user asked (art. 17)"}
            )
            assert erased.status_code == 200, erased.text
            assert erased.json()["subject"] == "user:alice"
            waits = await asyncio.gather(
                erased_within(client, cid, FORGET_DEADLINE_S),
                erased_within(other, cid, FORGET_DEADLINE_S),
            )
            assert None not in waits, waits

    after = await stream(client, cid)
    assert after[1]["data"]["content"] is None and after[1]["data"]["author"] is None
    assert after[0]["data"]["title"] == f"{marker} title"  # the conversation's own key
    assert after[2]["data"]["content"] == f"{marker} by bob" and "_privacy" not in after[2]["data"]
    assert keys_of(servers.database_url, tenant, "user:alice") == 0

    replay = await collect(client, 3, params={"cursor": 0, "subjects": f"conversation.{cid}"})
    alice = replay[1].json["data"]
    assert alice["content"] is None and alice["_privacy"] == ERASED
    assert replay[2].json["data"]["content"] == f"{marker} by bob"

    again = await client.post("/v1/subjects/user:alice/erase", json={"reason": "twice"})
    assert_problem(again, 409)
    assert_problem(await client.post("/v1/subjects/user:nobody/erase", json={"reason": "x"}), 404)
    elsewhere = {"Authorization": f"Bearer {issue_key()}"}  # another tenant's admin
    assert_problem(
        await client.post("/v1/subjects/user:bob/erase", json={"reason": "x"}, headers=elsewhere),
        404,
    )
    assert (await stream(client, cid))[2]["data"]["content"] == f"{marker} by bob"

    # New values of an erased subject are new: they are readable, and erasable again.
    posted = await client.post(
        f"/v1/conversations/{cid}/messages",
        json={"role": "user", "content": "after", "author": "alice"},
    )
    assert posted.status_code == 201, posted.text
    assert (await stream(client, cid))[3]["data"]["content"] == "after"
    erased = await client.post("/v1/subjects/user:alice/erase", json={"reason": "again"})
    assert erased.status_code == 200, erased.text

    wait = {"min_position": erased.json()["position"], "action": "subject.erase"}
    audited = (await client.get("/v1/audit", params=wait)).json()["items"]
    entries = [e for e in audited if e["outcome"] == "accepted"]
    assert [(e["target"], e["reason"]) for e in entries] == [
        ("user:alice", "the user asked (art. 17)"),
        ("user:alice", "again"),
    ]
    assert entries[0]["actor"].startswith("key:")
    audit = run_cli(servers, "audit", "verify", "--json")
    assert audit.returncode == 0, audit.stderr
    assert '"intact": true' in audit.stdout


async def test_erasing_a_conversation_drops_its_snapshots_and_every_value_in_it(
    client: httpx.AsyncClient, servers: Settings, container: Container
) -> None:
    marker = f"marker-{uuid.uuid4().hex}"
    cid, _ = await conversation_with(client, marker)
    await asyncio.to_thread(container.store.snapshots.take, uuid.UUID(cid), 3)
    assert servers.database_url

    def snapshots() -> int:
        assert servers.database_url
        with psycopg.connect(servers.database_url) as conn:
            row = conn.execute(
                "SELECT count(*) FROM chronicle_snapshots WHERE originator_id = %s", (cid,)
            ).fetchone()
        assert row is not None
        return int(row[0])

    assert snapshots() == 1
    erased = await client.post(f"/v1/subjects/conversation:{cid}/erase", json={"reason": "x"})
    assert erased.status_code == 200, erased.text
    assert snapshots() == 0
    events = await stream(client, cid)
    assert events[0]["data"]["title"] is None
    assert [e["data"]["content"] for e in events[1:]] == [None, None]
    cold = await asyncio.to_thread(container.store.load_cold, uuid.UUID(cid))
    assert cold.title is None  # type: ignore[attr-defined]


async def test_erasure_needs_the_admin_scope(
    client: httpx.AsyncClient, issue_key: KeyFactory
) -> None:
    marker = f"marker-{uuid.uuid4().hex}"
    await conversation_with(client, marker)
    writer = bearer(issue_key(scopes=("read", "commands:write")))
    refused = await client.post(
        "/v1/subjects/user:alice/erase", json={"reason": "x"}, headers=writer
    )
    assert_problem(refused, 403)


async def test_the_cli_erases_a_document_and_events_show_marks_its_values(
    client: httpx.AsyncClient, servers: Settings
) -> None:
    marker = f"marker-{uuid.uuid4().hex}"
    created = await client.post("/v1/documents", json={"title": "Plan", "content": marker})
    assert created.status_code == 201, created.text
    did = created.json()["id"]
    tenant = (await stream(client, did))[0]["metadata"]["tenant_id"]
    erase = ("subjects", "erase", f"document:{did}", "--tenant", tenant, "--reason", "asked")

    done = run_cli(servers, *erase)
    assert done.returncode == 0, done.stderr
    assert f"erased: document:{did}" in done.stdout
    for args, why in (
        (erase, "erased and holds no values since"),
        (("subjects", "erase", "document:nope", "--tenant", tenant, "--reason", "x"), "not found"),
        (("subjects", "erase", "nobody", "--tenant", tenant, "--reason", "x"), "kind:id"),
    ):
        refused = run_cli(servers, *args)
        assert refused.returncode == 1, refused.stdout
        assert refused.stderr.count("\n") == 1 and why in refused.stderr, refused.stderr

    shown = run_cli(servers, "events", "show", did, "--json")
    assert shown.returncode == 0, shown.stderr
    assert marker not in shown.stdout
    first = json.loads(shown.stdout)["events"][0]["data"]
    assert first["content"] is None and first["_privacy"] == {
        "title": "erased",
        "content": "erased",
    }
    renamed = await client.post(f"/v1/documents/{did}/rename", json={"title": "Other"})
    assert_problem(renamed, 409)


async def test_a_tenants_retention_erases_its_conversations_once_that_old(
    client: httpx.AsyncClient, servers: Settings, container: Container, api_url: str
) -> None:
    marker = f"marker-{uuid.uuid4().hex}"
    cid, position = await conversation_with(client, marker)
    tenant = (await stream(client, cid))[0]["metadata"]["tenant_id"]
    kept = await client.get(f"/v1/conversations/{cid}", params={"min_position": position})
    assert kept.status_code == 200, kept.text  # the read model knows when it started

    done = run_cli(servers, "retention", "set", "--tenant", tenant, "--days", "1")
    assert done.returncode == 0, done.stderr
    assert f"{tenant}: conversations are kept 1 day" in done.stdout
    unknown = run_cli(servers, "retention", "set", "--tenant", "no-such-tenant", "--days", "1")
    assert unknown.returncode == 1 and unknown.stderr.count("\n") == 1, unknown.stderr

    sweep = PrivacyRetention(container.identity, container.subjects, container.portal)
    assert await asyncio.to_thread(sweep.run, datetime.now(UTC)) == 0  # a day to go
    two_days_on = datetime.now(UTC) + timedelta(days=2)
    assert await asyncio.to_thread(sweep.run, two_days_on) == 1
    events = await stream(client, cid)
    assert events[0]["data"]["title"] is None
    assert [e["data"]["content"] for e in events[1:]] == [None, None]
    assert await asyncio.to_thread(sweep.run, two_days_on) == 0  # nothing left to erase

    wait: dict[str, Any] = {"min_position": container.events.head(), "action": "subject.erase"}
    (entry,) = (await client.get("/v1/audit", params=wait)).json()["items"]
    assert (entry["actor"], entry["target"]) == ("retention", f"conversation:{cid}")
    assert entry["reason"] == "retention: conversations are kept 1 day"

    off = run_cli(servers, "retention", "set", "--tenant", tenant, "--days", "0")
    assert off.returncode == 0 and "until erased" in off.stdout, off.stderr
    await conversation_with(client, marker)
    assert await asyncio.to_thread(sweep.run, two_days_on) == 0


async def test_a_task_payload_marked_personal_is_sealed_and_erased_with_its_subject(
    client: httpx.AsyncClient, servers: Settings
) -> None:
    marker, k = f"marker-{uuid.uuid4().hex}", kind()
    personal = await submit(client, k, payload={"email": marker}, subject="user:carol")
    plain = await submit(client, k, payload={"note": "no one's"})
    assert (await task_view(client, personal["id"], personal["position"]))["payload"] == {
        "email": marker
    }
    assert servers.database_url
    assert marker.encode() not in dump(servers.database_url, "chronicle_events")

    erased = await client.post("/v1/subjects/user:carol/erase", json={"reason": "asked"})
    assert erased.status_code == 200, erased.text
    position = erased.json()["position"]
    view = await task_view(client, personal["id"], position)
    assert view["payload"] is None and view["subject"] == "user:carol"
    assert (await task_view(client, plain["id"], position))["payload"] == {"note": "no one's"}
    (submitted,) = (await stream(client, personal["id"]))[:1]
    assert submitted["data"]["payload"] is None
    assert submitted["data"]["_privacy"] == {"payload": "erased"}
    claimed = await claim(client, k)
    assert claimed is not None and claimed["task"]["id"] == personal["id"]
    assert claimed["task"]["payload"] is None  # the worker learns it is gone


async def test_after_erasing_its_author_a_marker_is_nowhere_in_the_database(
    client: httpx.AsyncClient, servers: Settings
) -> None:
    marker, kept = f"marker-{uuid.uuid4().hex}", f"kept-{uuid.uuid4().hex}"
    started = await client.post("/v1/conversations", json={"title": "Plans"})
    cid = started.json()["id"]
    for author, content in (("alice", marker), ("bob", kept)):
        posted = await client.post(
            f"/v1/conversations/{cid}/messages",
            json={"role": "user", "content": content, "author": author},
        )
        assert posted.status_code == 201, posted.text
    found = await client.get(
        "/v1/search/messages", params={"q": marker, "min_position": posted.json()["position"]}
    )
    assert len(found.json()["items"]) == 1

    erased = await client.post("/v1/subjects/user:alice/erase", json={"reason": "asked"})
    assert erased.status_code == 200, erased.text
    wait = {"min_position": erased.json()["position"]}
    history = (await client.get(f"/v1/conversations/{cid}/messages", params=wait)).json()
    assert [m["content"] for m in history["items"]] == [None, kept]
    assert (await client.get("/v1/search/messages", params={"q": marker, **wait})).json()[
        "items"
    ] == []
    assert servers.database_url
    everything = dump(servers.database_url)
    assert marker.encode() not in everything
    assert kept.encode() in everything  # bob's message, in the read models


async def test_an_author_named_with_spaces_is_erasable(client: httpx.AsyncClient) -> None:
    started = await client.post("/v1/conversations", json={"title": "Names"})
    cid = started.json()["id"]
    posted = await client.post(
        f"/v1/conversations/{cid}/messages",
        json={"role": "user", "content": "hello", "author": "Ann Smith"},
    )
    assert posted.status_code == 201, posted.text
    erased = await client.post("/v1/subjects/user:Ann Smith/erase", json={"reason": "asked"})
    assert erased.status_code == 200, erased.text
    assert (await stream(client, cid))[1]["data"]["content"] is None
