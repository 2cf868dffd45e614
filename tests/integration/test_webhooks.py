"""Signed webhooks end to end: a real API, the dispatcher and deliverer, and a real HTTP
receiver verifying Standard Webhooks signatures with the `standardwebhooks` library."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg
import pytest
from psycopg.rows import dict_row
from standardwebhooks.webhooks import Webhook as Verifier

from api.bootstrap import Container
from application.context import CommandContext
from infrastructure.personal_fields import ERASED, PRIVACY, SEALED_BYTES
from infrastructure.settings import Settings
from infrastructure.webhook_delivery import DELIVER_LOCK, forget_finished, pinned
from infrastructure.webhooks import DISPATCH_LOCK, dispatched_position
from tests.integration.cli import run_cli
from tests.integration.conftest import KeyFactory, serving
from tests.integration.sse import collect
from tests.integration.test_alerts import alerts_in, create_rule, fail_runs, steps_of
from tests.webhook_receiver import Received, Receiver, receiving

ATTEMPTS = 3


@pytest.fixture(scope="module")
def hook_settings(servers: Settings) -> Settings:
    """Private addresses allowed (the receiver is on loopback), and a short policy."""
    return replace(
        servers,
        webhooks_allow_private=True,
        webhook_timeout_s=1.0,
        webhook_max_attempts=ATTEMPTS,
        webhook_backoff_s=0.05,
        webhook_disable_after=2,
    )


@pytest.fixture(scope="module")
def hooks_api(hook_settings: Settings) -> Iterator[str]:
    """The API and the webhooks' worker, as `chronicle up` runs them."""
    container = Container.build(hook_settings)
    worker = container.webhook_worker()
    worker.start()
    try:
        with serving(hook_settings) as url:
            yield url
    finally:
        worker.stop()
        container.close()


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    with receiving(hang_s=2.0) as found:
        yield found


async def tenant_client(url: str, issue_key: KeyFactory) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=url, headers={"Authorization": f"Bearer {issue_key()}"}, timeout=30
    )


@pytest.fixture
async def api(hooks_api: str, issue_key: KeyFactory) -> AsyncIterator[httpx.AsyncClient]:
    async with await tenant_client(hooks_api, issue_key) as http:
        yield http


@pytest.fixture
async def other(hooks_api: str, issue_key: KeyFactory) -> AsyncIterator[httpx.AsyncClient]:
    async with await tenant_client(hooks_api, issue_key) as http:
        yield http


def path() -> str:
    return f"/hook-{uuid.uuid4().hex[:8]}"


async def register(api: httpx.AsyncClient, url: str, events: list[str], **more: Any) -> Any:
    response = await api.post("/v1/webhooks", json={"url": url, "events": events, **more})
    assert response.status_code == 201, response.text
    return response


async def start_and_post(api: httpx.AsyncClient, messages: int) -> tuple[str, list[int]]:
    started = await api.post("/v1/conversations", json={"title": "hooks"})
    conversation = started.json()["id"]
    positions = []
    for n in range(messages):
        posted = await api.post(
            f"/v1/conversations/{conversation}/messages", json={"role": "user", "content": f"{n}"}
        )
        assert posted.status_code == 201, posted.text
        positions.append(posted.json()["position"])
    return conversation, positions


async def deliveries(api: httpx.AsyncClient, webhook: str) -> list[dict[str, Any]]:
    response = await api.get(f"/v1/webhooks/{webhook}/deliveries")
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def eventually(
    api: httpx.AsyncClient, webhook: str, check: Any, within_s: float = 15.0
) -> list[dict[str, Any]]:
    deadline = time.monotonic() + within_s
    while True:
        found = await deliveries(api, webhook)
        if check(found):
            return found
        assert time.monotonic() < deadline, found
        time.sleep(0.05)


async def test_matching_events_arrive_signed_once_each_and_in_log_order(
    api: httpx.AsyncClient, receiver: Receiver
) -> None:
    at = path()
    created = await register(api, receiver.url + at, ["MessagePosted"])
    body = created.json()
    assert created.headers["location"] == f"/v1/webhooks/{body['id']}"
    assert body["secret"].startswith("whsec_")
    _, positions = await start_and_post(api, 5)
    got = receiver.wait_for(at, 5)
    verifier = Verifier(body["secret"])
    events = [verifier.verify(r.body, r.headers) for r in got]  # raises if not signed
    assert [int(e["id"]) for e in events] == positions
    assert {e["type"] for e in events} == {"chronicle.conversation.MessagePosted"}
    assert len({r.headers["webhook-id"] for r in got}) == 5
    done = await eventually(api, body["id"], lambda d: all(x["status"] == "delivered" for x in d))
    assert [(d["position"], d["attempts"], d["response_code"]) for d in done] == [
        (p, 1, 204) for p in positions
    ]
    time.sleep(0.3)
    assert len(receiver.at(at)) == 5  # none twice


async def test_a_secret_given_signs_and_is_never_answered(
    api: httpx.AsyncClient, receiver: Receiver
) -> None:
    at, secret = path(), "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    created = await register(api, receiver.url + at, ["Conversation*"], secret=secret)
    assert created.json()["secret"] is None
    await start_and_post(api, 0)
    (got,) = receiver.wait_for(at, 1)
    assert Verifier(secret).verify(got.body, got.headers)["type"].endswith("ConversationStarted")
    read = await api.get(f"/v1/webhooks/{created.json()['id']}")
    assert read.status_code == 200 and "secret" not in read.json()
    assert read.json()["events"] == ["Conversation*"] and read.json()["active"] is True


@pytest.mark.parametrize("answer", ["fail", "hang", "redirect"])
async def test_a_failing_receiver_is_retried_then_dead_lettered_without_blocking_another(
    api: httpx.AsyncClient, receiver: Receiver, answer: str
) -> None:
    bad, good = path(), path()
    receiver.answers[bad] = answer
    failing = (await register(api, receiver.url + bad, ["ConversationStarted"])).json()["id"]
    await register(api, receiver.url + good, ["ConversationStarted"])
    began = time.monotonic()
    await start_and_post(api, 0)
    receiver.wait_for(good, 1, within_s=5)
    assert time.monotonic() - began < 2  # not behind the failing webhook's retries
    (dead,) = await eventually(api, failing, lambda d: d and d[0]["status"] == "dead")
    assert dead["attempts"] == ATTEMPTS and dead["last_error"]
    assert dead["response_code"] == {"fail": 500, "hang": None, "redirect": 307}[answer]
    assert len(receiver.at(bad)) == ATTEMPTS
    assert not receiver.at("/elsewhere")


async def test_a_later_event_waits_while_an_earlier_one_is_retried(
    api: httpx.AsyncClient, receiver: Receiver
) -> None:
    at = path()
    receiver.answers[at] = "fail"
    webhook = (await register(api, receiver.url + at, ["MessagePosted"])).json()["id"]
    _, positions = await start_and_post(api, 2)
    first, second = await eventually(
        api, webhook, lambda d: len(d) == 2 and all(x["status"] == "dead" for x in d)
    )
    assert [first["position"], second["position"]] == positions
    sent = [r.headers["webhook-id"] for r in receiver.at(at)]
    assert sent == [first["delivery_id"]] * ATTEMPTS + [second["delivery_id"]] * ATTEMPTS


async def test_repeated_dead_letters_disable_the_webhook_with_an_event(
    api: httpx.AsyncClient, receiver: Receiver
) -> None:
    at = path()
    receiver.answers[at] = "fail"
    webhook = (await register(api, receiver.url + at, ["ConversationStarted"])).json()["id"]
    await start_and_post(api, 0)
    await start_and_post(api, 0)
    deadline = time.monotonic() + 15
    while (await api.get(f"/v1/webhooks/{webhook}")).json()["active"]:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    read = (await api.get(f"/v1/webhooks/{webhook}")).json()
    assert "repeated failed deliveries" in read["disabled_reason"]
    stream = (await api.get(f"/v1/streams/{webhook}/events")).json()["items"]
    assert [e["type"] for e in stream] == ["WebhookRegistered", "WebhookDisabled"]
    assert all("secret" not in json.dumps(e["data"]) for e in stream)
    receiver.answers[at] = "ok"
    assert (await api.post(f"/v1/webhooks/{webhook}/enable")).status_code == 200
    await start_and_post(api, 0)
    assert len(receiver.wait_for(at, 2 * ATTEMPTS + 1)) == 2 * ATTEMPTS + 1


async def test_a_dead_delivery_is_delivered_again_when_retried(
    api: httpx.AsyncClient, receiver: Receiver
) -> None:
    at = path()
    receiver.answers[at] = "fail"
    webhook = (await register(api, receiver.url + at, ["ConversationStarted"])).json()["id"]
    await start_and_post(api, 0)
    (dead,) = await eventually(api, webhook, lambda d: d and d[0]["status"] == "dead")
    receiver.answers[at] = "ok"
    retried = await api.post(f"/v1/webhooks/{webhook}/deliveries/{dead['delivery_id']}/retry")
    assert retried.status_code == 202, retried.text
    (done,) = await eventually(api, webhook, lambda d: d[0]["status"] == "delivered")
    assert done["response_code"] == 204
    assert receiver.at(at)[-1].headers["webhook-id"] == dead["delivery_id"]


async def test_a_tenant_never_sees_or_gets_another_tenants_webhooks_or_events(
    api: httpx.AsyncClient, other: httpx.AsyncClient, receiver: Receiver
) -> None:
    mine, theirs = path(), path()
    webhook = (await register(api, receiver.url + mine, ["*"])).json()["id"]
    await register(other, receiver.url + theirs, ["*"])
    await start_and_post(other, 1)
    await start_and_post(api, 1)
    got = receiver.wait_for(mine, 2)
    receiver.wait_for(theirs, 2)
    time.sleep(0.3)
    tenants = {json.loads(r.body)["tenant"] for r in receiver.at(mine)}
    assert len(tenants) == 1 and tenants != {
        json.loads(r.body)["tenant"] for r in receiver.at(theirs)
    }
    assert len(got) == len(receiver.at(mine))
    for method, url in [
        ("GET", f"/v1/webhooks/{webhook}"),
        ("GET", f"/v1/webhooks/{webhook}/deliveries"),
        ("DELETE", f"/v1/webhooks/{webhook}"),
        ("POST", f"/v1/webhooks/{webhook}/deliveries/{uuid.uuid4()}/retry"),
    ]:
        assert (await other.request(method, url)).status_code == 404, (method, url)
    listed = await other.get("/v1/webhooks", params={"min_position": 1})
    assert webhook not in {w["id"] for w in listed.json()["items"]}
    mine_listed = (await api.get("/v1/webhooks")).json()["items"]
    assert [w["id"] for w in mine_listed] == [webhook]


async def test_a_disabled_webhook_gets_nothing_until_enabled(
    api: httpx.AsyncClient, receiver: Receiver
) -> None:
    at = path()
    webhook = (await register(api, receiver.url + at, ["ConversationStarted"])).json()["id"]
    disabled = await api.post(f"/v1/webhooks/{webhook}/disable")
    assert disabled.status_code == 200, disabled.text
    assert (await api.post(f"/v1/webhooks/{webhook}/disable")).status_code == 409
    await start_and_post(api, 0)
    time.sleep(0.5)
    assert receiver.at(at) == []
    assert (await api.get(f"/v1/webhooks/{webhook}")).json()["active"] is False
    enabled = await api.post(f"/v1/webhooks/{webhook}/enable")
    assert enabled.status_code == 200, enabled.text
    assert (await api.post(f"/v1/webhooks/{webhook}/enable")).status_code == 409
    after, _ = await start_and_post(api, 0)
    (got,) = receiver.wait_for(at, 1)
    assert json.loads(got.body)["subject"] == after  # only what happened once enabled
    read = (await api.get(f"/v1/webhooks/{webhook}")).json()
    assert read["active"] is True and read["disabled_reason"] is None


async def test_a_deleted_webhook_is_gone_with_its_deliveries(
    api: httpx.AsyncClient, receiver: Receiver
) -> None:
    at = path()
    webhook = (await register(api, receiver.url + at, ["ConversationStarted"])).json()["id"]
    await start_and_post(api, 0)
    (delivery,) = await eventually(api, webhook, lambda d: d and d[0]["status"] == "delivered")
    deleted = await api.delete(f"/v1/webhooks/{webhook}")
    assert deleted.status_code == 200, deleted.text
    await start_and_post(api, 0)
    time.sleep(0.5)
    assert len(receiver.at(at)) == 1
    for method, url in [
        ("GET", f"/v1/webhooks/{webhook}"),
        ("GET", f"/v1/webhooks/{webhook}/deliveries"),
        ("DELETE", f"/v1/webhooks/{webhook}"),
        ("POST", f"/v1/webhooks/{webhook}/enable"),
        ("POST", f"/v1/webhooks/{webhook}/disable"),
        ("POST", f"/v1/webhooks/{webhook}/deliveries/{delivery['delivery_id']}/retry"),
    ]:
        assert (await api.request(method, url)).status_code == 404, (method, url)
    listed = await api.get("/v1/webhooks", params={"min_position": deleted.json()["position"]})
    assert webhook not in {w["id"] for w in listed.json()["items"]}


async def stored_bodies(settings: Settings, webhook: str) -> list[bytes]:
    """The delivery bodies the table holds for ``webhook``, as their bytes."""
    assert settings.database_url is not None
    async with await psycopg.AsyncConnection.connect(settings.database_url) as conn:
        rows = await (
            await conn.execute(
                "SELECT body FROM chronicle_webhook_deliveries WHERE webhook_id = %s",
                (uuid.UUID(webhook),),
            )
        ).fetchall()
    return [bytes(body) for (body,) in rows]


async def post_personal(api: httpx.AsyncClient, marker: str) -> str:
    """A conversation with one user's message whose content and author hold ``marker``."""
    started = await api.post("/v1/conversations", json={"title": "hooks"})
    conversation: str = started.json()["id"]
    posted = await api.post(
        f"/v1/conversations/{conversation}/messages",
        json={"role": "user", "content": f"{marker} said", "author": f"{marker}-author"},
    )
    assert posted.status_code == 201, posted.text
    return conversation


def delivered(found: list[dict[str, Any]]) -> bool:
    return bool(found) and all(d["status"] == "delivered" for d in found)


async def test_a_personal_value_arrives_opened_and_signed_but_is_stored_sealed(
    api: httpx.AsyncClient, receiver: Receiver, hook_settings: Settings, container: Container
) -> None:
    at, marker = path(), f"marker-{uuid.uuid4().hex}"
    created = (await register(api, receiver.url + at, ["MessagePosted"])).json()
    await post_personal(api, marker)
    (got,) = receiver.wait_for(at, 1)
    data = Verifier(created["secret"]).verify(got.body, got.headers)["data"]  # the body sent
    assert (data["content"], data["author"]) == (f"{marker} said", f"{marker}-author")
    assert "_sealed" not in data and PRIVACY not in data
    (stored,) = await stored_bodies(hook_settings, created["id"])
    assert marker.encode() not in stored and SEALED_BYTES in stored
    assert container.store.personal.open_cloud_event(stored, may_load=True) == got.body
    assert hook_settings.database_url is not None
    async with await psycopg.AsyncConnection.connect(hook_settings.database_url) as conn:
        found = await conn.execute(
            "SELECT count(*) FROM chronicle_webhook_deliveries WHERE position(%s IN body) > 0",
            (marker.encode(),),
        )
        assert await found.fetchone() == (0,)


async def erase_author(api: httpx.AsyncClient, marker: str) -> None:
    erased = await api.post(f"/v1/subjects/user:{marker}-author/erase", json={"reason": "asked"})
    assert erased.status_code == 200, erased.text


def sent_erased(secret: str, got: Received, marker: str) -> None:
    """``got`` is signed, and carries the message's values as null, marked erased."""
    data = Verifier(secret).verify(got.body, got.headers)["data"]
    assert (data["content"], data["author"]) == (None, None)
    assert data[PRIVACY] == {"content": ERASED, "author": ERASED}
    assert marker.encode() not in got.body


async def test_a_delivery_retried_after_its_subject_is_erased_has_the_values_null(
    api: httpx.AsyncClient, receiver: Receiver
) -> None:
    at, marker = path(), f"marker-{uuid.uuid4().hex}"
    created = (await register(api, receiver.url + at, ["MessagePosted"])).json()
    await post_personal(api, marker)
    (before,) = receiver.wait_for(at, 1)
    (sent,) = await eventually(api, created["id"], delivered)
    await erase_author(api, marker)
    retried = await api.post(f"/v1/webhooks/{created['id']}/deliveries/{sent['delivery_id']}/retry")
    assert retried.status_code == 202, retried.text
    _, after = receiver.wait_for(at, 2)
    assert Verifier(created["secret"]).verify(before.body, before.headers)["data"]["content"]
    sent_erased(created["secret"], after, marker)
    assert after.headers["webhook-id"] == sent["delivery_id"]
    (done,) = await eventually(api, created["id"], delivered)
    assert (done["attempts"], done["response_code"]) == (1, 204)


async def test_a_delivery_pending_when_its_subject_is_erased_goes_on_with_the_values_null(
    api: httpx.AsyncClient, receiver: Receiver
) -> None:
    at, marker = path(), f"marker-{uuid.uuid4().hex}"
    receiver.answers[at] = "hang"  # each attempt times out: the delivery waits for its next
    created = (await register(api, receiver.url + at, ["MessagePosted"])).json()
    await post_personal(api, marker)
    (before,) = receiver.wait_for(at, 1)
    await erase_author(api, marker)
    receiver.answers[at] = "ok"
    after = receiver.wait_for(at, 2)[-1]
    assert marker.encode() in before.body
    sent_erased(created["secret"], after, marker)
    (done,) = await eventually(api, created["id"], delivered)
    assert done["attempts"] == 2


@contextmanager
def holding(dsn: str, lock: int) -> Iterator[None]:
    """Another process's session holding one of the webhooks' advisory locks."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (lock,))
        yield


@contextmanager
def running(container: Container) -> Iterator[None]:
    worker = container.webhook_worker()
    worker.start()
    try:
        yield
    finally:
        worker.stop()


def test_a_deliverer_sends_only_while_its_own_dispatcher_leads(
    scratch: Settings, hook_settings: Settings, receiver: Receiver
) -> None:
    """The dispatcher beside a deliverer is what drops an erased subject's keys from it:
    while another process's dispatcher leads, this deliverer waits."""
    settings = replace(hook_settings, database_url=scratch.database_url)
    dsn, at = str(scratch.database_url), path()
    context = CommandContext(tenant_id="t-leading", actor="test", command="test")
    first, second = Container.build(settings), Container.build(settings)
    try:
        first.portal.call(first.webhooks.register, context, receiver.url + at, ["*"])
        with holding(dsn, DELIVER_LOCK), running(first):  # a delivery recorded, not sent
            started = first.portal.call(first.conversations.start, context, "hooks", [])
            deadline = time.monotonic() + 15
            while first.reads.read(dispatched_position) < started.position:
                assert time.monotonic() < deadline
                time.sleep(0.05)
        with running(second):
            with holding(dsn, DISPATCH_LOCK):  # another process's dispatcher leads
                time.sleep(1.5)
                assert receiver.at(at) == []
            receiver.wait_for(at, 1)  # its own dispatcher leads now: the delivery goes
    finally:
        first.close()
        second.close()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "ftp://example.com/x", "events": ["*"]}, "url"),
        ({"url": "https://user:pw@example.com/x", "events": ["*"]}, "url"),
        ({"url": "https:///nohost", "events": ["*"]}, "url"),
        ({"url": "not a url", "events": ["*"]}, "url"),
        ({"url": "https://example.com/x", "events": []}, "events"),
        ({"url": "https://example.com/x", "events": ["bad type!"]}, "events"),
        ({"url": "https://example.com/x", "events": ["*"], "secret": "plain"}, "secret"),
        ({"url": "https://example.com/x", "events": ["*"], "unknown": 1}, "unknown"),
    ],
)
async def test_bad_input_is_a_400_naming_the_field(
    api: httpx.AsyncClient, body: dict[str, Any], field: str
) -> None:
    response = await api.post("/v1/webhooks", json=body)
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert field in response.text


async def test_private_addresses_are_refused_unless_allowed(client: httpx.AsyncClient) -> None:
    for url in ("http://127.0.0.1:9/x", "http://localhost/x", "http://10.1.2.3/", "http://[::1]/"):
        response = await client.post("/v1/webhooks", json={"url": url, "events": ["*"]})
        assert response.status_code == 400, (url, response.text)
        assert "url" in response.text


async def test_an_unusable_host_is_a_failed_attempt_and_blocks_no_one(
    api: httpx.AsyncClient, receiver: Receiver
) -> None:
    good = path()
    bad = (await register(api, "http://" + "x" * 70 + ".invalid/", ["ConversationStarted"])).json()
    await register(api, receiver.url + good, ["ConversationStarted"])
    await start_and_post(api, 0)
    receiver.wait_for(good, 1, within_s=5)
    (dead,) = await eventually(api, bad["id"], lambda d: d and d[0]["status"] == "dead")
    assert dead["attempts"] == ATTEMPTS and dead["response_code"] is None


async def test_another_kind_of_aggregate_is_no_webhook(api: httpx.AsyncClient) -> None:
    conversation, _ = await start_and_post(api, 0)
    for method, url in [
        ("GET", f"/v1/webhooks/{conversation}"),
        ("GET", f"/v1/webhooks/{conversation}/deliveries"),
        ("DELETE", f"/v1/webhooks/{conversation}"),
    ]:
        assert (await api.request(method, url)).status_code == 404, (method, url)


async def test_a_retried_registration_answers_as_the_first_without_the_secret(
    api: httpx.AsyncClient, receiver: Receiver
) -> None:
    body = {"url": receiver.url + path(), "events": ["*"]}
    headers = {"Idempotency-Key": f"hook-{uuid.uuid4()}"}
    first = await api.post("/v1/webhooks", json=body, headers=headers)
    again = await api.post("/v1/webhooks", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.json()["id"] == again.json()["id"]
    assert first.json()["secret"].startswith("whsec_") and again.json()["secret"] is None
    listed = await api.get("/v1/webhooks", params={"min_position": first.json()["position"]})
    assert [w["id"] for w in listed.json()["items"]] == [first.json()["id"]]


async def test_many_concurrent_events_arrive_in_log_order_at_each_webhook(
    api: httpx.AsyncClient, receiver: Receiver
) -> None:
    paths = [path(), path()]
    for at in paths:
        await register(api, receiver.url + at, ["MessagePosted"])
    conversation, _ = await start_and_post(api, 0)
    posted = await asyncio.gather(
        *(
            api.post(
                f"/v1/conversations/{conversation}/messages",
                json={"role": "user", "content": str(n)},
            )
            for n in range(60)
        )
    )
    positions = sorted(p.json()["position"] for p in posted)
    for at in paths:
        got = receiver.wait_for(at, 60, within_s=30)
        assert [int(json.loads(r.body)["id"]) for r in got] == positions


async def test_a_pinned_request_reaches_the_checked_address_under_the_hosts_name(
    receiver: Receiver,
) -> None:
    at = path()
    port = httpx.URL(receiver.url).port
    target = pinned(f"http://hooks.example.com:{port}{at}", "127.0.0.1")
    async with httpx.AsyncClient() as http:
        response = await http.post(target.url, content=b"{}", headers=target.headers)
    assert response.status_code == 204
    (got,) = receiver.wait_for(at, 1)
    assert got.headers["host"] == f"hooks.example.com:{port}"


async def test_finished_deliveries_past_their_keeping_are_deleted(
    api: httpx.AsyncClient, receiver: Receiver, hook_settings: Settings
) -> None:
    at = path()
    webhook = (await register(api, receiver.url + at, ["MessagePosted"])).json()["id"]
    await start_and_post(api, 2)
    old, recent = await eventually(
        api, webhook, lambda d: len(d) == 2 and all(x["status"] == "delivered" for x in d)
    )
    assert hook_settings.database_url is not None
    async with await psycopg.AsyncConnection.connect(
        hook_settings.database_url, autocommit=True, row_factory=dict_row
    ) as conn:
        await conn.execute(
            "UPDATE chronicle_webhook_deliveries SET updated_at = now() - interval '31 days'"
            " WHERE delivery_id = %s",
            (uuid.UUID(old["delivery_id"]),),
        )
        assert await forget_finished(conn, 30) >= 1
    assert [d["delivery_id"] for d in await deliveries(api, webhook)] == [recent["delivery_id"]]


async def test_an_alerts_lifecycle_reaches_a_webhook_signed_and_the_live_stream(
    api: httpx.AsyncClient,
    receiver: Receiver,
    container: Container,
    projecting: None,
    relaying: None,
) -> None:
    at = path()
    secret = (await register(api, receiver.url + at, ["Alert*"])).json()["secret"]
    rule = await create_rule(api, for_s=60)
    cursor = await fail_runs(api, 2)
    evaluator = container.evaluator()
    t0 = datetime.now(UTC)

    def steps(moment: datetime) -> list[str]:
        return steps_of(container.portal.call(evaluator.evaluate, moment), rule)

    assert steps(t0) == ["open"]
    assert steps(t0 + timedelta(seconds=60)) == ["fire"]
    (firing,) = await alerts_in(api, "firing")
    acknowledged = await api.post(
        f"/v1/alerts/{firing['alert_id']}/acknowledge", json={"note": "on it"}
    )
    assert acknowledged.status_code == 200, acknowledged.text
    calm = t0 + timedelta(seconds=400)  # the failures have left the rule's 300 s window
    assert steps(calm) + steps(calm + timedelta(seconds=60)) == ["resolve"]
    lifecycle = ["AlertPending", "AlertFired", "AlertAcknowledged", "AlertResolved"]
    got = receiver.wait_for(at, 5)
    events = [Verifier(secret).verify(r.body, r.headers) for r in got]  # raises if not signed
    assert [e["type"] for e in events] == [
        f"chronicle.alert.{name}" for name in ["AlertRuleCreated", *lifecycle]
    ]
    assert {e["subject"] for e in events[1:]} == {firing["alert_id"]}
    assert events[3]["data"]["note"] == "on it"
    live = await collect(api, 4, params={"cursor": cursor, "subjects": "alert.*"})
    assert [frame.event for frame in live] == lifecycle
    assert [frame.position for frame in live] == [int(e["id"]) for e in events[1:]]


async def test_the_cli_retries_a_dead_delivery_and_shows_no_other_tenants_webhook(
    servers: Settings, hooks_api: str, issue_key: KeyFactory, receiver: Receiver
) -> None:
    at, mine, theirs = path(), f"t-hook-{uuid.uuid4().hex[:8]}", f"t-hook-{uuid.uuid4().hex[:8]}"
    headers = {"Authorization": f"Bearer {issue_key(mine)}"}
    async with httpx.AsyncClient(base_url=hooks_api, headers=headers, timeout=30) as api:
        receiver.answers[at] = "fail"
        webhook = (await register(api, receiver.url + at, ["ConversationStarted"])).json()["id"]
        await start_and_post(api, 0)
        (dead,) = await eventually(api, webhook, lambda d: d and d[0]["status"] == "dead")
        foreign = run_cli(servers, "webhooks", "deliveries", webhook, "--tenant", theirs)
        assert foreign.returncode == 1, foreign.stderr
        assert f"webhook {webhook} not found" in foreign.stderr
        assert dead["delivery_id"] not in foreign.stdout + foreign.stderr
        receiver.answers[at] = "ok"
        retried = run_cli(
            servers, "webhooks", "retry", webhook, dead["delivery_id"], "--tenant", mine
        )
        assert retried.returncode == 0, retried.stderr
        await eventually(api, webhook, lambda d: d[0]["status"] == "delivered")
    shown = run_cli(servers, "webhooks", "deliveries", webhook, "--tenant", mine)
    assert "ConversationStarted" in shown.stdout and "delivered" in shown.stdout
    assert receiver.at(at)[-1].headers["webhook-id"] == dead["delivery_id"]
