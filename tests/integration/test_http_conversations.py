"""Conversations over real HTTP: every endpoint, every bad input, the HTTP rules."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest

from tests.integration.conftest import KeyFactory

PROBLEM = "application/problem+json"


def assert_problem(
    response: httpx.Response, status: int, field: str | None = None
) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["type"].startswith("https://") and body["title"]
    assert "Traceback" not in response.text
    if field is not None:
        assert field in [e["field"] for e in body["errors"]], body
    return body


async def start(client: httpx.AsyncClient, title: str = "Planning") -> dict[str, Any]:
    response = await client.post(
        "/v1/conversations", json={"title": title, "participants": ["ada"]}
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def events_of(client: httpx.AsyncClient, aggregate_id: str) -> list[dict[str, Any]]:
    response = await client.get(f"/v1/streams/{aggregate_id}/events")
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def test_start_answers_id_version_and_position(client: httpx.AsyncClient) -> None:
    body = await start(client)
    assert set(body) == {"id", "version", "position"}
    assert body["version"] == 1 and body["position"] > 0
    uuid.UUID(body["id"])


async def test_events_carry_the_request_id_or_else_their_command_id_as_correlation(
    client: httpx.AsyncClient,
) -> None:
    traced = await client.post(
        "/v1/conversations", json={"title": "Traced"}, headers={"X-Request-Id": "req-42"}
    )
    assert traced.status_code == 201, traced.text
    [event] = await events_of(client, traced.json()["id"])
    assert event["metadata"]["correlation_id"] == "req-42"

    [event] = await events_of(client, (await start(client))["id"])
    metadata = event["metadata"]
    assert metadata["correlation_id"] == metadata["causation_id"] == metadata["command_id"]
    uuid.UUID(metadata["command_id"])


async def test_get_one_has_an_etag_and_the_fields(client: httpx.AsyncClient) -> None:
    started = await start(client)
    response = await client.get(
        f"/v1/conversations/{started['id']}", params={"min_position": started["position"]}
    )
    assert response.status_code == 200
    assert response.headers["etag"] == '"1"'
    body = response.json()
    assert body["title"] == "Planning" and body["participants"] == ["ada"]
    assert body["message_count"] == 0 and body["archived"] is False and body["version"] == 1
    assert body["created_at"].endswith("Z") and body["updated_at"].endswith("Z")


async def test_post_rename_archive_and_read_the_stream(client: httpx.AsyncClient) -> None:
    cid = (await start(client))["id"]
    posted = await client.post(
        f"/v1/conversations/{cid}/messages",
        json={"role": "user", "content": "hi", "author": "ada", "tokens": 2},
    )
    assert posted.status_code == 201
    assert set(posted.json()) == {"message_id", "version", "position"}
    renamed = await client.post(f"/v1/conversations/{cid}/rename", json={"title": "Retro"})
    assert renamed.status_code == 200 and renamed.json()["version"] == 3
    archived = await client.post(f"/v1/conversations/{cid}/archive")
    assert archived.status_code == 200 and archived.json()["version"] == 4
    events = await events_of(client, cid)
    assert [e["type"] for e in events] == [
        "ConversationStarted",
        "MessagePosted",
        "ConversationRenamed",
        "ConversationArchived",
    ]
    assert events[1]["data"]["content"] == "hi"
    assert events[1]["data"]["message_id"] == posted.json()["message_id"]
    assert [e["position"] for e in events] == sorted(e["position"] for e in events)
    assert events[3]["position"] == archived.json()["position"]
    view = (
        await client.get(
            f"/v1/conversations/{cid}", params={"min_position": archived.json()["position"]}
        )
    ).json()
    assert (view["title"], view["message_count"], view["archived"]) == ("Retro", 1, True)


async def test_the_stream_pages_from_a_version(client: httpx.AsyncClient) -> None:
    cid = (await start(client))["id"]
    for i in range(4):
        await client.post(
            f"/v1/conversations/{cid}/messages", json={"role": "user", "content": f"{i}"}
        )
    page = (
        await client.get(f"/v1/streams/{cid}/events", params={"from_version": 2, "limit": 2})
    ).json()
    assert [e["version"] for e in page["items"]] == [2, 3]
    assert page["next"] == "4"
    rest = (await client.get(f"/v1/streams/{cid}/events", params={"from_version": 4})).json()
    assert [e["version"] for e in rest["items"]] == [4, 5] and rest["next"] is None


async def test_posting_to_an_archived_conversation_is_409(client: httpx.AsyncClient) -> None:
    cid = (await start(client))["id"]
    await client.post(f"/v1/conversations/{cid}/archive")
    response = await client.post(
        f"/v1/conversations/{cid}/messages", json={"role": "user", "content": "late"}
    )
    assert_problem(response, 409)
    assert len(await events_of(client, cid)) == 2


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"role": "bot", "content": "hi"}, "role"),
        ({"role": "user", "content": ""}, "content"),
        ({"role": "user", "content": "x" * (64 * 1024 + 1)}, "content"),
        ({"role": "user", "content": "hi", "mood": "happy"}, "mood"),
        ({"content": "hi"}, "role"),
        ({"role": "user"}, "content"),
        ({"role": "user", "content": 5}, "content"),
        ({"role": "user", "content": "hi", "tokens": -1}, "tokens"),
        ({"role": "user", "content": "hi", "content_type": "Text/Markdown"}, "content_type"),
        ({"role": "user", "content": "hi", "content_type": "markdown"}, "content_type"),
    ],
)
async def test_bad_messages_are_400_listing_the_field_and_write_nothing(
    client: httpx.AsyncClient, payload: dict[str, Any], field: str
) -> None:
    cid = (await start(client))["id"]
    response = await client.post(f"/v1/conversations/{cid}/messages", json=payload)
    assert_problem(response, 400, field)
    assert len(await events_of(client, cid)) == 1


async def test_a_message_keeps_its_content_type_and_is_plain_text_without_one(
    client: httpx.AsyncClient,
) -> None:
    cid = (await start(client))["id"]
    base = f"/v1/conversations/{cid}/messages"
    await client.post(base, json={"role": "user", "content": "hi"})
    posted = await client.post(
        base, json={"role": "assistant", "content": "*hi*", "content_type": "text/markdown"}
    )
    history = await client.get(base, params={"min_position": posted.json()["position"]})
    assert [m["content_type"] for m in history.json()["items"]] == ["text/plain", "text/markdown"]
    one = await client.get(f"{base}/{posted.json()['message_id']}")
    assert one.json()["content_type"] == "text/markdown"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({}, "title"),
        ({"title": ""}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"title": "   "}, "title"),
    ],
)
async def test_bad_titles_are_400(
    client: httpx.AsyncClient, payload: dict[str, Any], field: str
) -> None:
    assert_problem(await client.post("/v1/conversations", json=payload), 400, field)


async def test_malformed_json_is_400(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/conversations", content=b'{"title": ', headers={"content-type": "application/json"}
    )
    assert_problem(response, 400, "body")


async def test_an_unknown_id_is_404(client: httpx.AsyncClient) -> None:
    unknown = uuid.uuid4()
    assert_problem(await client.get(f"/v1/conversations/{unknown}"), 404)
    assert_problem(
        await client.post(
            f"/v1/conversations/{unknown}/messages", json={"role": "user", "content": "x"}
        ),
        404,
    )
    assert_problem(await client.post(f"/v1/conversations/{unknown}/archive"), 404)
    assert_problem(await client.get(f"/v1/streams/{unknown}/events"), 404)
    assert_problem(await client.get("/v1/conversations/not-a-uuid"), 404)


async def test_a_body_over_1_mib_is_413(client: httpx.AsyncClient) -> None:
    body = b'{"title": "' + b"x" * (1024 * 1024) + b'"}'
    response = await client.post(
        "/v1/conversations", content=body, headers={"content-type": "application/json"}
    )
    assert_problem(response, 413)


async def test_a_retry_with_the_same_idempotency_key_replays_and_writes_nothing(
    client: httpx.AsyncClient,
) -> None:
    cid = (await start(client))["id"]
    headers = {"Idempotency-Key": str(uuid.uuid4())}
    payload = {"role": "user", "content": "once"}
    first = await client.post(f"/v1/conversations/{cid}/messages", json=payload, headers=headers)
    again = await client.post(f"/v1/conversations/{cid}/messages", json=payload, headers=headers)
    assert (first.status_code, again.status_code) == (201, 201)
    assert first.json() == again.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert len(await events_of(client, cid)) == 2


async def test_a_start_retried_with_its_key_returns_the_same_conversation(
    client: httpx.AsyncClient,
) -> None:
    headers = {"Idempotency-Key": "start-" + str(uuid.uuid4())}
    first = await client.post("/v1/conversations", json={"title": "Once"}, headers=headers)
    again = await client.post("/v1/conversations", json={"title": "Once"}, headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()


async def test_the_same_key_with_another_body_is_422(client: httpx.AsyncClient) -> None:
    cid = (await start(client))["id"]
    headers = {"Idempotency-Key": str(uuid.uuid4())}
    await client.post(
        f"/v1/conversations/{cid}/messages", json={"role": "user", "content": "a"}, headers=headers
    )
    response = await client.post(
        f"/v1/conversations/{cid}/messages", json={"role": "user", "content": "b"}, headers=headers
    )
    assert_problem(response, 422)
    assert len(await events_of(client, cid)) == 2


async def test_idempotency_keys_are_per_tenant(
    client: httpx.AsyncClient, api_url: str, issue_key: KeyFactory
) -> None:
    headers = {"Idempotency-Key": "shared-" + str(uuid.uuid4())}
    mine = await client.post("/v1/conversations", json={"title": "Mine"}, headers=headers)
    async with httpx.AsyncClient(
        base_url=api_url, headers={"Authorization": f"Bearer {issue_key()}"}
    ) as other:
        theirs = await other.post("/v1/conversations", json={"title": "Mine"}, headers=headers)
    assert theirs.status_code == 201 and theirs.json()["id"] != mine.json()["id"]


async def test_twenty_concurrent_duplicates_have_one_effect(client: httpx.AsyncClient) -> None:
    cid = (await start(client))["id"]
    headers = {"Idempotency-Key": str(uuid.uuid4())}
    payload = {"role": "user", "content": "exactly once"}
    responses = await asyncio.gather(
        *(
            client.post(f"/v1/conversations/{cid}/messages", json=payload, headers=headers)
            for _ in range(20)
        )
    )
    assert {r.status_code for r in responses} == {201}
    assert len({r.text for r in responses}) == 1
    assert len(await events_of(client, cid)) == 2


async def test_twenty_concurrent_duplicate_starts_have_one_effect(
    client: httpx.AsyncClient,
) -> None:
    headers = {"Idempotency-Key": str(uuid.uuid4())}
    responses = await asyncio.gather(
        *(
            client.post("/v1/conversations", json={"title": "Once"}, headers=headers)
            for _ in range(20)
        )
    )
    assert {r.status_code for r in responses} == {201}
    assert len({r.json()["id"] for r in responses}) == 1


async def test_a_stale_if_match_is_412_and_writes_nothing(client: httpx.AsyncClient) -> None:
    cid = (await start(client))["id"]
    await client.post(f"/v1/conversations/{cid}/messages", json={"role": "user", "content": "hi"})
    response = await client.post(
        f"/v1/conversations/{cid}/rename", json={"title": "Late"}, headers={"If-Match": '"1"'}
    )
    assert_problem(response, 412)
    fresh = await client.post(
        f"/v1/conversations/{cid}/rename", json={"title": "Now"}, headers={"If-Match": '"2"'}
    )
    assert fresh.status_code == 200 and fresh.headers["etag"] == '"3"'
    assert len(await events_of(client, cid)) == 3


async def test_a_malformed_if_match_is_400(client: httpx.AsyncClient) -> None:
    cid = (await start(client))["id"]
    response = await client.post(
        f"/v1/conversations/{cid}/rename", json={"title": "x"}, headers={"If-Match": "soon"}
    )
    assert_problem(response, 400, "If-Match")


async def test_two_concurrent_writers_with_the_same_if_match_one_wins(
    client: httpx.AsyncClient,
) -> None:
    cid = (await start(client))["id"]
    responses = await asyncio.gather(
        *(
            client.post(
                f"/v1/conversations/{cid}/messages",
                json={"role": "user", "content": f"writer {i}"},
                headers={"If-Match": '"1"'},
            )
            for i in range(2)
        )
    )
    assert sorted(r.status_code for r in responses) == [201, 412]
    assert len(await events_of(client, cid)) == 2


async def test_concurrent_posts_without_if_match_all_land(client: httpx.AsyncClient) -> None:
    cid = (await start(client))["id"]
    responses = await asyncio.gather(
        *(
            client.post(
                f"/v1/conversations/{cid}/messages", json={"role": "user", "content": str(i)}
            )
            for i in range(16)
        )
    )
    assert {r.status_code for r in responses} == {201}
    assert sorted(r.json()["version"] for r in responses) == list(range(2, 18))


async def test_another_tenants_conversation_is_404(
    client: httpx.AsyncClient, api_url: str, issue_key: KeyFactory
) -> None:
    cid = (await start(client))["id"]
    async with httpx.AsyncClient(
        base_url=api_url, headers={"Authorization": f"Bearer {issue_key()}"}
    ) as other:
        assert_problem(await other.get(f"/v1/conversations/{cid}"), 404)
        assert_problem(await other.get(f"/v1/streams/{cid}/events"), 404)
        posted = await other.post(
            f"/v1/conversations/{cid}/messages", json={"role": "user", "content": "x"}
        )
        assert_problem(posted, 404)
        assert_problem(await other.post(f"/v1/conversations/{cid}/archive"), 404)
    assert len(await events_of(client, cid)) == 1


async def test_no_key_or_a_wrong_key_is_401(
    anonymous: httpx.AsyncClient, issue_key: KeyFactory
) -> None:
    assert_problem(await anonymous.post("/v1/conversations", json={"title": "x"}), 401)
    token = issue_key()
    tampered = token[:-1] + ("A" if token[-1] != "A" else "B")
    for header in ["Bearer nonsense", f"Bearer {tampered}", f"Basic {token}", "Bearer"]:
        response = await anonymous.get(
            f"/v1/conversations/{uuid.uuid4()}", headers={"Authorization": header}
        )
        body = assert_problem(response, 401)
        assert response.headers["www-authenticate"] == "Bearer"
        assert token not in str(body)


async def test_a_revoked_key_is_401(api_url: str, issue_key: KeyFactory, container: Any) -> None:
    from application.context import CommandContext

    tenant = f"t-{uuid.uuid4().hex[:12]}"
    token = issue_key(tenant)
    key_id = uuid.UUID(hex=token.split("_")[1])
    await container.identity.revoke_key(CommandContext(tenant, "test", "keys.revoke"), key_id)
    await asyncio.sleep(1.1)
    async with httpx.AsyncClient(
        base_url=api_url, headers={"Authorization": f"Bearer {token}"}
    ) as http:
        assert_problem(await http.post("/v1/conversations", json={"title": "x"}), 401)


async def test_scopes_are_enforced(api_url: str, issue_key: KeyFactory) -> None:
    reader = {"Authorization": f"Bearer {issue_key(scopes=('read',))}"}
    writer = {"Authorization": f"Bearer {issue_key(scopes=('commands:write',))}"}
    async with httpx.AsyncClient(base_url=api_url) as http:
        assert_problem(
            await http.post("/v1/conversations", json={"title": "x"}, headers=reader), 403
        )
        created = await http.post("/v1/conversations", json={"title": "x"}, headers=writer)
        assert created.status_code == 201
        cid = created.json()["id"]
        assert_problem(await http.get(f"/v1/conversations/{cid}", headers=writer), 403)
        assert_problem(await http.get(f"/v1/streams/{cid}/events", headers=writer), 403)


async def test_health_readiness_and_openapi_need_no_key(anonymous: httpx.AsyncClient) -> None:
    assert (await anonymous.get("/healthz")).json() == {"status": "ok"}
    ready = await anonymous.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"postgres": "ok", "nats": "ok", "redis": "ok"}
    schema = (await anonymous.get("/schema/openapi.json")).json()
    assert "/v1/conversations/{conversation_id}/messages" in schema["paths"]
    assert (await anonymous.get("/schema")).status_code == 200
    assert (await anonymous.get("/metrics")).status_code == 200


async def test_a_wrong_method_is_a_problem(anonymous: httpx.AsyncClient) -> None:
    assert_problem(await anonymous.delete("/healthz"), 405)


async def test_participants_join_and_leave(client: httpx.AsyncClient) -> None:
    started = await start(client)
    cid = started["id"]
    joined = await client.post(
        f"/v1/conversations/{cid}/participants", json={"user_id": "bob", "role": "guest"}
    )
    assert joined.status_code == 200, joined.text
    assert_problem(
        await client.post(f"/v1/conversations/{cid}/participants", json={"user_id": "bob"}), 409
    )
    left = await client.delete(f"/v1/conversations/{cid}/participants/ada")
    assert left.status_code == 200, left.text
    assert_problem(await client.delete(f"/v1/conversations/{cid}/participants/ada"), 409)
    assert_problem(
        await client.post(f"/v1/conversations/{cid}/participants", json={"user_id": ""}),
        400,
        "user_id",
    )
    row = await client.get(
        f"/v1/conversations/{cid}", params={"min_position": left.json()["position"]}
    )
    assert row.json()["participants"] == ["bob"]
    types = [e["type"] for e in await events_of(client, cid)]
    assert types[-2:] == ["ParticipantJoined", "ParticipantLeft"]
    other = await client.post(
        f"/v1/conversations/{uuid.uuid4()}/participants", json={"user_id": "x"}
    )
    assert_problem(other, 404)
