"""Shared documents over real HTTP and PostgreSQL: ops at stale base revisions from many
writers at once are transformed so every writer converges on the server's text, the log
replays to it at every revision, the read model follows it, and bad ops append nothing."""

from __future__ import annotations

import asyncio
import random
import uuid
from typing import Any

import httpx
import psycopg
import pytest

from domain import text_ot
from domain.document import OP_MAX_SIZE
from infrastructure.settings import Settings
from tests.integration.sse import collect
from tests.integration.test_audit import bearer
from tests.integration.test_http_conversations import assert_problem, start
from tests.integration.test_user_tokens import mint

WRITERS = 20
OPS_EACH = 4


async def create(http: httpx.AsyncClient, content: str = "", title: str = "Notes") -> str:
    response = await http.post("/v1/documents", json={"title": title, "content": content})
    assert response.status_code == 201, response.text
    body = response.json()
    assert response.headers["Location"] == f"/v1/documents/{body['id']}"
    assert body["revision"] == 0
    return str(body["id"])


async def submit(
    http: httpx.AsyncClient, document: str, base: int, op: list[Any], **extra: Any
) -> httpx.Response:
    return await http.post(
        f"/v1/documents/{document}/operations", json={"base_revision": base, "op": op, **extra}
    )


async def history(http: httpx.AsyncClient, document: str, after: int = 0) -> list[dict[str, Any]]:
    ops: list[dict[str, Any]] = []
    while True:
        page = await http.get(
            f"/v1/documents/{document}/operations", params={"from_revision": after, "limit": 50}
        )
        assert page.status_code == 200, page.text
        ops += page.json()["items"]
        if page.json()["next"] is None:
            return ops
        after = int(page.json()["next"])


def an_edit(rng: random.Random, text: str, name: str) -> list[Any]:
    """An insert, or a delete when there is text to delete, somewhere in ``text``."""
    at = rng.randint(0, len(text))
    if text and rng.random() < 0.3:
        at = min(at, len(text) - 1)
        component: Any = {"d": rng.randint(1, min(3, len(text) - at))}
    else:
        component = rng.choice([name, "é", "😭", "e\u0301"])
    return [at, component] if at else [component]


async def test_writers_at_stale_bases_converge_and_the_log_replays_at_every_revision(
    client: httpx.AsyncClient,
) -> None:
    document = await create(client, "start: ")
    rng = random.Random(21)

    async def writer(name: str) -> tuple[int, str]:
        """An editor that catches up only now and then: each op is made on the text of the
        revision it last saw, and the server transforms it."""
        revision, text = 0, "start: "
        for _ in range(OPS_EACH):
            response = await submit(client, document, revision, an_edit(rng, text, name))
            assert response.status_code == 200, response.text
            if rng.random() < 0.5:  # catch up with everything up to its own op
                for applied in await history(client, document, revision):
                    if applied["revision"] <= response.json()["revision"]:
                        text, revision = text_ot.apply(text, applied["op"]), applied["revision"]
        return revision, text

    async def caught_up(revision: int, text: str) -> tuple[int, str]:
        for applied in await history(client, document, revision):
            text, revision = text_ot.apply(text, applied["op"]), applied["revision"]
        return revision, text

    views = await asyncio.gather(*(writer(f"[w{i}]") for i in range(WRITERS)))
    seen = [await caught_up(*view) for view in views]
    head = (await client.get(f"/v1/documents/{document}")).json()
    assert head["revision"] == WRITERS * OPS_EACH
    assert set(seen) == {(head["revision"], head["content"])}
    texts = ["start: "]
    for applied in await history(client, document):
        texts.append(text_ot.apply(texts[-1], applied["op"]))
    assert texts[-1] == head["content"]
    for revision in [*sorted(rng.sample(range(len(texts)), 12)), 0, len(texts) - 1]:
        at = await client.get(f"/v1/documents/{document}", params={"revision": revision})
        assert (at.json()["revision"], at.json()["content"]) == (revision, texts[revision])


async def test_the_read_model_follows_the_ops(client: httpx.AsyncClient, servers: Settings) -> None:
    document = await create(client, "naïve 😭 cafe\u0301")
    first = await submit(client, document, 0, [6, {"d": 1}, "🙂", 6, "!"])
    assert first.status_code == 200, first.text
    second = await submit(client, document, 0, ["> "], author="agent:planner")
    assert second.json()["op"] == ["> "] and second.json()["author"] == "agent:planner"
    listed = await client.get("/v1/documents", params={"min_position": second.json()["position"]})
    (row,) = [r for r in listed.json()["items"] if r["id"] == document]
    expected = "> naïve 🙂 cafe\u0301!"
    assert (row["revision"], row["length"]) == (2, len(expected))
    assert row["collaborators"] == [first.json()["author"], "agent:planner"]
    with psycopg.connect(servers.database_url or "") as conn:
        (content,) = conn.execute(
            "SELECT content FROM rm.documents WHERE id = %s", (document,)
        ).fetchone() or ("",)
    assert content == expected == (await client.get(f"/v1/documents/{document}")).json()["content"]


async def test_a_resent_op_applies_once(client: httpx.AsyncClient) -> None:
    document = await create(client)
    headers = {"Idempotency-Key": str(uuid.uuid4())}
    body = {"base_revision": 0, "op": ["once"]}
    first = await client.post(f"/v1/documents/{document}/operations", json=body, headers=headers)
    again = await client.post(f"/v1/documents/{document}/operations", json=body, headers=headers)
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json() and again.headers["Idempotent-Replayed"] == "true"
    assert (await client.get(f"/v1/documents/{document}")).json()["content"] == "once"


@pytest.mark.parametrize(
    ("op", "base", "status", "field"),
    [
        ([-1, "x"], 0, 400, "op[0]"),
        (["", 1], 0, 400, "op[0]"),
        ([{"x": 1}], 0, 400, "op[0].x"),
        ([{"d": 0}], 0, 400, "op[0].d"),
        ([4, "x"], 0, 409, None),  # well formed, but longer than the text: its state says no
        ([{"d": 4}], 0, 409, None),
        (["a\u0000"], 0, 400, "op[0]"),
        ([True], 0, 400, "op[0]"),
        ([None], 0, 400, "op[0]"),
        ([1.5], 0, 400, "op[0]"),
        (["x" * (OP_MAX_SIZE + 1)], 0, 400, "op[0]"),
        ([1] * 3 + ["x"] * 3, 0, 200, None),  # not normalised, but well formed
        (["x"], 1, 409, None),
        (["x"], -1, 400, "base_revision"),
    ],
)
async def test_a_bad_op_is_refused_naming_the_problem_and_appends_nothing(
    client: httpx.AsyncClient, op: list[Any], base: int, status: int, field: str | None
) -> None:
    document = await create(client, "abc")
    response = await submit(client, document, base, op)
    after = (await client.get(f"/v1/documents/{document}")).json()
    if status == 200:
        assert response.status_code == 200, response.text
        assert (response.json()["op"], after["content"]) == ([3, "xxx"], "abcxxx")
        return
    assert_problem(response, status, field)
    assert (after["version"], after["content"]) == (1, "abc")


async def test_archived_and_other_tenants_documents_take_no_ops(
    client: httpx.AsyncClient, api_url: str, issue_key: Any
) -> None:
    document = await create(client, "abc")
    async with httpx.AsyncClient(
        base_url=api_url, headers=bearer(issue_key()), timeout=30
    ) as other:
        assert_problem(await submit(other, document, 0, ["x"]), 404)
        assert_problem(await other.get(f"/v1/documents/{document}"), 404)
    archived = await client.post(f"/v1/documents/{document}/archive")
    assert archived.status_code == 200, archived.text
    assert_problem(await submit(client, document, 0, ["x"]), 409)
    assert_problem(await client.get(f"/v1/documents/{document}", params={"revision": 1}), 404)
    assert_problem(await client.post("/v1/documents", json={"title": ""}), 400, "title")


async def test_a_user_token_edits_the_documents_it_names_as_its_user(
    client: httpx.AsyncClient, api_url: str
) -> None:
    mine, other = await create(client, "mine"), await create(client, "other")
    editor = (await mint(client, user_id="ada", documents=[mine], scopes=["documents:write"]))[
        "token"
    ]
    reader = (await mint(client, user_id="bob", documents=[mine]))["token"]
    async with httpx.AsyncClient(base_url=api_url, timeout=30) as browser:
        edited = await browser.post(
            f"/v1/documents/{mine}/operations",
            json={"base_revision": 0, "op": [4, "!"]},
            headers=bearer(editor),
        )
        assert edited.status_code == 200 and edited.json()["author"] == "ada", edited.text
        as_other = await browser.post(
            f"/v1/documents/{mine}/operations",
            json={"base_revision": 1, "op": ["?"], "author": "eve"},
            headers=bearer(editor),
        )
        assert_problem(as_other, 403)
        elsewhere = await browser.post(
            f"/v1/documents/{other}/operations",
            json={"base_revision": 0, "op": ["x"]},
            headers=bearer(editor),
        )
        assert_problem(elsewhere, 404)
        assert_problem(await browser.get(f"/v1/documents/{mine}", headers=bearer(reader)), 403)
        read = await browser.get(f"/v1/documents/{mine}", headers=bearer(editor))
        assert read.json()["content"] == "mine!"


async def test_a_user_token_follows_its_documents_live(
    client: httpx.AsyncClient, anonymous: httpx.AsyncClient
) -> None:
    mine, other = await create(client, "mine"), await create(client, "other")
    token = (await mint(client, user_id="ada", documents=[mine]))["token"]
    reader = asyncio.create_task(
        collect(anonymous, 2, params={"token": token, "subjects": f"document.{mine}"})
    )
    await asyncio.sleep(0.3)
    assert (await submit(client, other, 0, ["not for ada"])).status_code == 200
    first = (await submit(client, mine, 0, ["1"])).json()
    renamed = await client.post(f"/v1/documents/{mine}/rename", json={"title": "Mine"})
    frames = await reader
    assert [(f.event, f.position) for f in frames] == [
        ("OperationApplied", first["position"]),
        ("DocumentRenamed", renamed.json()["position"]),
    ]
    assert frames[0].json["data"]["op"] == ["1"]
    refused = await anonymous.get(
        "/v1/live", params={"token": token, "subjects": f"document.{other}"}
    )
    assert_problem(refused, 403)


async def test_an_agent_runs_edits_and_a_users_share_one_history(
    client: httpx.AsyncClient,
) -> None:
    document = await create(client, "plan")
    conversation = (await start(client))["id"]
    begun = await client.post(
        "/v1/runs",
        json={
            "conversation_id": conversation,
            "agent": "writer",
            "model": "m-1",
            "document_id": document,
        },
    )
    assert begun.status_code == 201, begun.text
    run = begun.json()["id"]
    assert (await submit(client, document, 0, [4, ": draft"], author="ada")).status_code == 200
    by_run = await submit(client, document, 0, ["# "], run_id=run)
    assert by_run.status_code == 200, by_run.text
    assert [op["author"] for op in await history(client, document)] == ["ada", f"run:{run}"]
    assert (await client.get(f"/v1/documents/{document}")).json()["content"] == "# plan: draft"
    timeline = await client.get(
        f"/v1/runs/{run}", params={"min_position": by_run.json()["position"]}
    )
    assert timeline.json()["document_id"] == document
    elsewhere = await create(client, "other")
    assert_problem(await submit(client, elsewhere, 0, ["x"], run_id=run), 400, "run_id")
    done = await client.post(f"/v1/runs/{run}/complete", json={"content": "done"})
    assert done.status_code == 200, done.text
    assert_problem(await submit(client, document, 2, ["x"], run_id=run), 409)
    nowhere = await client.post(
        "/v1/runs",
        json={
            "conversation_id": conversation,
            "agent": "writer",
            "model": "m-1",
            "document_id": str(uuid.uuid4()),
        },
    )
    assert_problem(nowhere, 404)
