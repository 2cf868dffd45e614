"""/metrics on a real app: events appended, commands by outcome, group commits, the
backlogs read from the database, tokens by model, rate-limit refusals and live streams,
as Prometheus would parse them; and every metric the Grafana dashboard reads is there."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable

import httpx
from prometheus_client.parser import text_string_to_metric_families

from api.bootstrap import Container
from tests.integration.sse import frames
from tests.integration.test_http_conversations import assert_problem, start
from tests.integration.test_rate_limits import in_one_window, limited_key
from tests.integration.test_tasks import claim, submit
from tests.unit.api.test_observability import dashboard_metrics

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Samples:
    """Every sample of an exposition, by its name and labels."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def scrape(http: httpx.AsyncClient) -> Samples:
    answer = await http.get("/metrics")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    return parse(answer.text)


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


async def until(
    http: httpx.AsyncClient, seen: Callable[[Samples], bool], within: float = 10
) -> Samples:
    """Scrape until ``seen`` holds (what the database shows follows the projector)."""
    deadline = time.monotonic() + within
    while True:
        samples = await scrape(http)
        if seen(samples):
            return samples
        assert time.monotonic() < deadline, "the metrics never showed it"
        await asyncio.sleep(0.2)


async def test_commands_are_counted_by_outcome_and_their_events_by_category_and_type(
    client: httpx.AsyncClient,
) -> None:
    before = await scrape(client)
    cid = (await start(client))["id"]
    posted = await client.post(
        f"/v1/conversations/{cid}/messages", json={"role": "user", "content": "hi"}
    )
    assert posted.status_code == 201
    stale = await client.post(
        f"/v1/conversations/{cid}/messages",
        json={"role": "user", "content": "late"},
        headers={"If-Match": '"1"'},
    )
    assert_problem(stale, 412)
    assert_problem(await client.post(f"/v1/conversations/{uuid.uuid4()}/archive"), 404)
    after = await scrape(client)

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    commands = "chronicle_commands_total"
    assert grew(commands, command="conversation.start", outcome="ok") >= 1
    assert grew(commands, command="conversation.post_message", outcome="ok") >= 1
    assert grew(commands, command="conversation.post_message", outcome="precondition_failed") >= 1
    assert grew(commands, command="conversation.archive", outcome="not_found") >= 1
    appended = "chronicle_events_appended_total"
    assert grew(appended, category="conversation", type="ConversationStarted") >= 1
    assert grew(appended, category="conversation", type="MessagePosted") >= 1
    assert grew("chronicle_group_commit_batch_commands_count") >= 2
    assert grew("chronicle_group_commit_duration_seconds_count") >= 2
    assert value(after, "chronicle_group_commit_duration_seconds_bucket", le="+Inf") >= 2


async def test_backlogs_of_projections_relay_and_tasks_are_read_from_the_database(
    client: httpx.AsyncClient,
) -> None:
    kind = f"metrics-{uuid.uuid4().hex[:8]}"
    doomed = await submit(client, kind, max_attempts=1)
    assert await claim(client, kind) is not None
    failed = await client.post(f"/v1/tasks/{doomed['id']}/fail", json={"error": "no"})
    assert failed.status_code == 200
    await submit(client, kind)

    samples = await until(
        client,
        lambda s: (
            value(s, "chronicle_task_dead_letters", type=kind) == 1
            and value(s, "chronicle_task_queue_depth", type=kind, state="pending") == 1
        ),
    )
    head = value(samples, "chronicle_log_head_position")
    assert head >= failed.json()["position"]
    for projection in ("messages", "tasks", "usage"):
        assert ("chronicle_projection_position", frozenset({("projection", projection)})) in samples
        assert value(samples, "chronicle_projection_position", projection=projection) <= head
        lag = value(samples, "chronicle_projection_lag_events", projection=projection)
        assert (
            lag >= 0
            and value(samples, "chronicle_projection_lag_seconds", projection=projection) >= 0
        )
        assert value(samples, "chronicle_projection_parked_events", projection=projection) == 0
    assert ("chronicle_relay_lag_events", frozenset()) in samples
    assert value(samples, "chronicle_relay_position") <= head
    assert value(samples, "chronicle_relay_lag_seconds") >= 0


async def test_tokens_and_cost_are_counted_by_model_once_per_completed_run(
    client: httpx.AsyncClient,
) -> None:
    model = f"m-{uuid.uuid4().hex[:8]}"
    cid = (await start(client))["id"]
    run = await client.post(
        "/v1/runs", json={"conversation_id": cid, "agent": "planner", "model": model}
    )
    assert run.status_code == 201
    body = {"content": "done", "usage": {"input_tokens": 10, "output_tokens": 4, "cost_usd": 0.5}}
    key = {"Idempotency-Key": uuid.uuid4().hex}
    for _ in range(2):  # the retry is replayed, not counted again
        done = await client.post(f"/v1/runs/{run.json()['id']}/complete", json=body, headers=key)
        assert done.status_code == 200
    samples = await scrape(client)
    assert value(samples, "chronicle_run_tokens_total", model=model, kind="input") == 10
    assert value(samples, "chronicle_run_tokens_total", model=model, kind="output") == 4
    assert value(samples, "chronicle_run_cost_usd_total", model=model) == 0.5


async def test_a_rate_limit_refusal_is_counted(api_url: str, container: Container) -> None:
    headers = {"Authorization": f"Bearer {await limited_key(container, 1)}"}
    refusals = "chronicle_rate_limit_refusals_total"
    await in_one_window()
    async with httpx.AsyncClient(base_url=api_url, headers=headers) as http:
        before = value(await scrape(http), refusals, limit="requests_per_minute")
        answers = [await http.get("/v1/conversations") for _ in range(2)]
        assert [a.status_code for a in answers] == [200, 429]
        after = value(await scrape(http), refusals, limit="requests_per_minute")
    assert after - before == 1


async def test_an_open_live_stream_is_a_connection_and_its_events_are_delivered(
    client: httpx.AsyncClient,
) -> None:
    cid = (await start(client))["id"]
    connections, delivered = "chronicle_live_connections", "chronicle_live_events_delivered_total"
    before = await scrape(client)
    params: dict[str, str | int] = {"cursor": 0, "subjects": f"conversation.{cid}"}
    async with client.stream("GET", "/v1/live", params=params) as stream:
        received = frames(stream)  # held: a dropped reader would close the stream
        first = await anext(received)
        assert first.event == "ConversationStarted"
        during = await scrape(client)
    after = await until(
        client,
        lambda s: (
            value(s, connections, transport="sse") == value(before, connections, transport="sse")
        ),
    )
    assert (
        value(during, connections, transport="sse") - value(before, connections, transport="sse")
        >= 1
    )
    assert value(after, delivered, transport="sse") - value(before, delivered, transport="sse") >= 1


async def test_every_metric_the_dashboard_reads_is_on_a_real_scrape(
    client: httpx.AsyncClient, api_url: str, container: Container
) -> None:
    # Some of everything, so that each labelled series exists.
    kind = f"dash-{uuid.uuid4().hex[:8]}"
    doomed = await submit(client, kind, max_attempts=1)
    assert await claim(client, kind) is not None
    assert (await client.post(f"/v1/tasks/{doomed['id']}/fail", json={"error": "no"})).is_success
    await submit(client, kind)
    cid = (await start(client))["id"]
    run = await client.post(
        "/v1/runs", json={"conversation_id": cid, "agent": "a", "model": "dash-model"}
    )
    await client.post(
        f"/v1/runs/{run.json()['id']}/complete",
        json={"content": "ok", "usage": {"input_tokens": 1, "output_tokens": 1}},
    )
    limited = {"Authorization": f"Bearer {await limited_key(container, 1)}"}
    await in_one_window()
    async with httpx.AsyncClient(base_url=api_url, headers=limited) as http:
        assert (await http.get("/v1/conversations")).status_code == 200
        assert (await http.get("/v1/conversations")).status_code == 429

    samples = await until(client, lambda s: value(s, "chronicle_task_dead_letters", type=kind) == 1)
    names = {name for name, _ in samples}
    assert dashboard_metrics() - names == set()
