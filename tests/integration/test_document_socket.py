"""Co-editing over the document socket, on two API processes with real NATS, Valkey and
PostgreSQL: editors typing at once converge on the server's text, see each other's
cursors where they belong and their joining and leaving; an op pending when its
connection drops applies once; a token without the document is refused."""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from chronicle_client.documents import DocumentEditor, EditRefused
from infrastructure.settings import Settings
from tests.integration.conftest import KeyFactory, serving
from tests.integration.test_audit import bearer
from tests.integration.test_documents import create, history, submit
from tests.integration.test_user_tokens import mint

EDITS_EACH = 15


@pytest.fixture(scope="module")
def two(servers: Settings, relaying: None) -> Iterator[tuple[str, str]]:
    with serving(servers) as one, serving(servers) as other:
        yield one, other


@pytest.fixture
async def platform(two: tuple[str, str], issue_key: KeyFactory) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=two[0], headers=bearer(issue_key()), timeout=30) as http:
        yield http


async def editors_of(
    platform: httpx.AsyncClient, urls: list[str], document: str, users: list[str]
) -> list[DocumentEditor]:
    editors = []
    for url, user in zip(urls, users, strict=True):
        grant = {"documents": [document], "scopes": ["documents:write"]}
        token = (await mint(platform, user_id=user, **grant))["token"]
        editor = DocumentEditor(url, document, token=token)
        await editor.connect()
        editors.append(editor)
    return editors


async def typing(editor: DocumentEditor, rng: random.Random, name: str) -> None:
    for i in range(EDITS_EACH):
        at = rng.randint(0, len(editor.content))
        if editor.content and rng.random() < 0.3:
            at = min(at, len(editor.content) - 1)
            await editor.delete(at, 1)
        else:
            await editor.insert(at, f"{name}{i}" if rng.random() < 0.7 else "😭")
        await asyncio.sleep(rng.uniform(0, 0.02))


async def test_three_editors_on_two_processes_converge(
    two: tuple[str, str], platform: httpx.AsyncClient
) -> None:
    document = await create(platform, "shared: ")
    one, other = two
    editors = await editors_of(platform, [one, other, one], document, ["ada", "bob", "cy"])
    rng = random.Random(3)
    await asyncio.gather(*(typing(e, rng, n) for e, n in zip(editors, "ABC", strict=True)))
    async with asyncio.timeout(30):
        for editor in editors:
            await editor.synced()
        head = (await platform.get(f"/v1/documents/{document}")).json()
        for editor in editors:
            await editor.until(lambda e=editor: e.revision == head["revision"])
    assert {(e.revision, e.content) for e in editors} == {(head["revision"], head["content"])}
    assert head["revision"] >= 3  # several ops each, composed while one was in flight
    for editor in editors:
        await editor.close()


async def test_cursors_follow_the_text_and_editors_come_and_go(
    two: tuple[str, str], platform: httpx.AsyncClient
) -> None:
    document = await create(platform, "hello world")
    one, other = two
    ada, bob = await editors_of(platform, [one, other], document, ["ada", "bob"])
    await ada.move(6, 5, name="Ada")  # "world"
    async with asyncio.timeout(10):
        await bob.until(lambda: bob.cursor_of(ada.client_id) is not None)
    assert bob.cursor_of(ada.client_id) == {"index": 6, "length": 5}
    assert bob.others[ada.client_id]["name"] == "Ada" and bob.others[ada.client_id]["user"] == "ada"
    await bob.insert(0, ">> ")
    async with asyncio.timeout(10):
        await bob.synced()
        await ada.until(lambda: ada.content == ">> hello world")
    assert bob.cursor_of(ada.client_id) == {"index": 9, "length": 5}  # still on "world"
    (cy,) = await editors_of(platform, [one], document, ["cy"])
    assert cy.content == ">> hello world"
    assert cy.cursor_of(ada.client_id) == {"index": 9, "length": 5}  # moved on the server
    async with asyncio.timeout(10):
        await ada.until(lambda: cy.client_id in ada.others)
        await cy.close()
        await ada.until(lambda: cy.client_id not in ada.others)
        await bob.until(lambda: cy.client_id not in bob.others)
    await ada.close()
    await bob.close()


async def test_an_op_pending_when_the_connection_drops_applies_once(
    two: tuple[str, str], platform: httpx.AsyncClient
) -> None:
    document = await create(platform, "")
    one, other = two
    (ada,) = await editors_of(platform, [one], document, ["ada"])
    for round_, url in enumerate([one, other, one]):
        await ada.insert(len(ada.content), f"<{round_}>")
        await ada.drop()  # before the ack can come, maybe before the op has gone
        ada.url = url.replace("http", "ws", 1) + ada.url[ada.url.index("/v1/") :]
        await ada.connect()
        async with asyncio.timeout(10):
            await ada.synced()
    ops = await history(platform, document)
    assert [op["op"] for op in ops] == [["<0>"], [3, "<1>"], [6, "<2>"]]
    assert {op["source"] for op in ops} == {ada.client_id}
    assert (await platform.get(f"/v1/documents/{document}")).json()["content"] == "<0><1><2>"
    await ada.close()


async def test_a_token_without_the_document_is_refused(
    two: tuple[str, str], platform: httpx.AsyncClient
) -> None:
    mine, other = await create(platform, "mine"), await create(platform, "other")
    one = two[0]
    token = (await mint(platform, user_id="eve", documents=[mine], scopes=["documents:write"]))[
        "token"
    ]
    with pytest.raises(EditRefused) as refused:
        await DocumentEditor(one, other, token=token).connect()
    assert refused.value.problem["status"] == 404
    reader = (await mint(platform, user_id="eve", documents=[mine]))["token"]
    url = one.replace("http", "ws") + f"/v1/documents/{mine}/ws?token={reader}"
    with pytest.raises(InvalidStatus) as refused_handshake:
        await connect(url)
    assert refused_handshake.value.response.status_code == 403


@pytest.mark.parametrize(
    ("frame", "status"),
    [
        ({"op": [-1, "x"], "base_revision": 0, "seq": 1}, 400),
        ({"op": [{"d": 9}], "base_revision": 0, "seq": 1}, 409),
        ({"op": ["x"], "base_revision": 5, "seq": 1}, 409),
        ({"op": ["a\u0000"], "base_revision": 0, "seq": 1}, 400),
        ({"op": ["x"], "seq": 1}, 400),
        ({"presence": {"cursor": {"index": "x"}}}, 400),
        ({"nonsense": True}, 400),
        ({}, 400),
    ],
)
async def test_a_bad_frame_is_answered_with_a_problem_and_appends_nothing(
    two: tuple[str, str], platform: httpx.AsyncClient, frame: dict[str, Any], status: int
) -> None:
    document = await create(platform, "abc")
    (ada,) = await editors_of(platform, [two[0]], document, ["ada"])
    assert ada._socket is not None
    await ada._socket.send(json.dumps(frame))
    async with asyncio.timeout(10):
        await ada.until(lambda: bool(ada.errors))
        assert ada.errors[0]["status"] == status and ada.errors[0]["detail"]
        await ada.insert(3, "!")  # the next frame is taken as ever
        await ada.synced()
    ops = await history(platform, document)
    assert [op["op"] for op in ops] == [[3, "!"]]
    await ada.close()


@pytest.mark.parametrize("batch", ["1", "0"])
async def test_a_client_taking_batches_gets_what_it_missed_in_one_message(
    two: tuple[str, str], platform: httpx.AsyncClient, batch: str
) -> None:
    document = await create(platform, "")
    ops: list[list[Any]] = [["a"], [1, "b"], [2, "c"]]
    for base, op in enumerate(ops):
        assert (await submit(platform, document, base, op)).status_code == 200
    query = f"client_id=late&revision=0&batch={batch}"
    url = two[0].replace("http", "ws") + f"/v1/documents/{document}/ws?{query}"
    key = {"Authorization": platform.headers["Authorization"]}
    async with connect(url, additional_headers=key) as socket:
        async with asyncio.timeout(10):
            welcome = json.loads(await socket.recv())
            assert (welcome["type"], welcome["revision"]) == ("welcome", 0)
            messages = [json.loads(await socket.recv())]
            if batch == "0":
                messages += [json.loads(await socket.recv()) for _ in range(2)]
    frames = messages[0] if batch == "1" else messages
    assert [(f["type"], f["revision"], f["op"]) for f in frames] == [
        ("op", 1, ["a"]),
        ("op", 2, [1, "b"]),
        ("op", 3, [2, "c"]),
    ]
