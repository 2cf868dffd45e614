"""Personal notifications over real HTTP, NATS and PostgreSQL: sent with a key, delivered
live to that user's tokens only, listed with the unread count, marked read by the user."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest

from infrastructure.settings import Settings
from tests.integration.cli import run_cli
from tests.integration.conftest import KeyFactory
from tests.integration.sse import collect
from tests.integration.test_audit import bearer
from tests.integration.test_http_conversations import assert_problem
from tests.integration.test_user_tokens import mint


async def send(client: httpx.AsyncClient, user: str, **notice: Any) -> dict[str, Any]:
    body = {"kind": "mention", "title": "You were mentioned", **notice}
    response = await client.post(f"/v1/users/{user}/notifications", json=body)
    assert response.status_code == 201, response.text
    sent: dict[str, Any] = response.json()
    return sent


async def test_a_notification_reaches_its_user_live_and_no_one_else(
    client: httpx.AsyncClient, anonymous: httpx.AsyncClient
) -> None:
    ada = (await mint(client, user_id="ada"))["token"]
    bob = (await mint(client, user_id="bob"))["token"]
    for user in ("ada", "bob"):  # their inboxes open (InboxOpened goes to them too)
        await send(client, user, title="welcome")
    head = (await send(client, "carol"))["position"]
    readers = [
        asyncio.create_task(collect(anonymous, 1, params={"cursor": head, "token": t}))
        for t in (ada, bob)
    ]
    await asyncio.sleep(0.3)
    for_bob = await send(client, "bob", title="for bob", data={"link": "/x"}, priority="high")
    for_ada = await send(client, "ada", title="for ada")
    (ada_frame,), (bob_frame,) = await asyncio.gather(*readers)
    assert ada_frame.position == for_ada["position"] and ada_frame.event == "NotificationSent"
    assert ada_frame.json["data"]["title"] == "for ada"
    assert bob_frame.position == for_bob["position"]
    assert bob_frame.json["data"]["data"] == {"link": "/x"}


async def test_a_user_lists_and_reads_its_notifications(
    client: httpx.AsyncClient, api_url: str
) -> None:
    first = await send(client, "dora", title="one")
    second = await send(client, "dora", title="two", body="details")
    theirs = await send(client, "eve", title="not dora's")
    token = (await mint(client, user_id="dora"))["token"]
    wait = {"min_position": theirs["position"]}
    async with httpx.AsyncClient(base_url=api_url, headers=bearer(token), timeout=30) as dora:
        page = (await dora.get("/v1/me/notifications", params=wait)).json()
        assert [n["title"] for n in page["items"]] == ["two", "one"] and page["unread"] == 2
        read = await dora.post(f"/v1/me/notifications/{first['id']}/read")
        assert read.status_code == 200, read.text
        again = await dora.post(f"/v1/me/notifications/{first['id']}/read")
        assert_problem(again, 409)
        assert_problem(await dora.post(f"/v1/me/notifications/{theirs['id']}/read"), 409)
        unread = await dora.get(
            "/v1/me/notifications",
            params={"unread": "true", "min_position": read.json()["position"]},
        )
        assert [n["notification_id"] for n in unread.json()["items"]] == [second["id"]]
        assert unread.json()["unread"] == 1
        assert_problem(await dora.get("/v1/users/eve/notifications"), 403)
    by_key = await client.get("/v1/users/dora/notifications", params=wait)
    assert by_key.json()["unread"] == 1
    mine = await client.get("/v1/me/notifications")  # a key has no user of its own
    assert mine.status_code == 200 and mine.json()["items"] == []


@pytest.mark.parametrize(
    ("notice", "field"),
    [
        ({"kind": "Bad Kind"}, "kind"),
        ({"priority": "whenever"}, "priority"),
        ({"title": ""}, "title"),
        ({"surprise": 1}, "surprise"),
    ],
)
async def test_a_notification_it_cannot_keep_is_400(
    client: httpx.AsyncClient, notice: dict[str, Any], field: str
) -> None:
    body = {"kind": "mention", "title": "t", **notice}
    response = await client.post("/v1/users/frank/notifications", json=body)
    problem = assert_problem(response, 400)
    assert field in str(problem)


async def test_a_bad_user_id_is_400(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/users/not%20valid/notifications", json={"kind": "k", "title": "t"}
    )
    assert_problem(response, 400)


async def test_operators_notify_from_the_cli(
    servers: Settings, api_url: str, issue_key: KeyFactory
) -> None:
    tenant = f"t-{uuid.uuid4().hex[:10]}"
    sent = run_cli(
        servers, "notify", "--tenant", tenant, "--user", "gus", "--title", "Maintenance",
        "--priority", "urgent",
    )  # fmt: skip
    assert sent.returncode == 0, sent.stderr
    position = int(sent.stdout.split("position")[-1])
    async with httpx.AsyncClient(
        base_url=api_url, headers=bearer(issue_key(tenant)), timeout=30
    ) as http:
        page = await http.get("/v1/users/gus/notifications", params={"min_position": position})
    (notice,) = page.json()["items"]
    assert (notice["title"], notice["priority"], page.json()["unread"]) == (
        "Maintenance", "urgent", 1,
    )  # fmt: skip
    bad = run_cli(servers, "notify", "--tenant", tenant, "--user", "gus", "--title", "x",
                  "--priority", "soon")  # fmt: skip
    assert bad.returncode != 0 and "priority" in bad.stderr and "Traceback" not in bad.stderr


async def test_an_announcement_reaches_every_live_client_of_the_tenant(
    client: httpx.AsyncClient, anonymous: httpx.AsyncClient, issue_key: KeyFactory
) -> None:
    elsewhere = bearer(issue_key())  # another tenant's key, following everything
    token = (await mint(client, user_id="hal"))["token"]
    head = (await send(client, "hal", title="inbox opened"))["position"]
    readers = [
        asyncio.create_task(collect(anonymous, 1, params={"cursor": head, "token": token})),
        asyncio.create_task(collect(client, 1, params={"cursor": head, "subjects": "*"})),
    ]
    other = asyncio.create_task(
        collect(anonymous, 1, params={"cursor": head}, headers=elsewhere, timeout=3)
    )
    await asyncio.sleep(0.3)
    made = await client.post("/v1/announcements", json={"title": "Down at 6", "priority": "urgent"})
    assert made.status_code == 201, made.text
    for (frame,) in await asyncio.gather(*readers):
        assert frame.position == made.json()["position"] and frame.event == "AnnouncementMade"
        assert frame.json["data"]["title"] == "Down at 6"
    with pytest.raises(TimeoutError):
        await other
