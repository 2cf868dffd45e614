"""A property of user tokens over real HTTP, NATS, PostgreSQL and two API processes: in any
mix of users, conversations, messages, joins, notifications and announcements, every live
client (SSE or WebSocket, on either process, resuming or not) receives exactly the events
its token allows, once each and in order.

What a token allows (decision 24): the conversations it lists, its user's own inbox and
the tenant's announcements. Taking part in a conversation (``participants``, a join)
widens nothing, so the scenarios make users participants of conversations their tokens
may or may not list.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.asyncio.client import connect

from api.bootstrap import Container
from domain.events import RecordedEvent
from domain.people import Inbox
from infrastructure.envelope import wire_type
from infrastructure.settings import Settings
from tests.integration.conftest import KeyFactory, serving
from tests.integration.sse import frames
from tests.integration.test_audit import bearer
from tests.integration.test_user_tokens import mint

FOLLOW_S = 20.0  # for a client to receive the last event, at most
QUIET_S = 0.2  # after it, in which nothing more may arrive
END = "end of scenario"  # the title of the announcement every client waits for
EPHEMERAL = frozenset({"presence", "typing"})  # no position; checked for their subject only


@dataclass(frozen=True)
class Follower:
    """One live client: a token of ``user`` listing ``conversations`` (indexes)."""

    user: int
    conversations: frozenset[int]
    process: int
    transport: Literal["sse", "ws"]
    from_the_start: bool  # from before the tenant's first event, else from after the set-up
    leave_after: int | None  # events received before it disconnects and resumes
    resume_on: int  # the process it resumes on


@dataclass(frozen=True)
class Action:
    kind: Literal["post", "join", "notify", "announce"]
    conversation: int = 0
    user: int = 0


@dataclass(frozen=True)
class Scenario:
    participants: tuple[frozenset[int], ...]  # per conversation, from its start
    followers: tuple[Follower, ...]
    actions: tuple[Action, ...]


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    users = draw(st.integers(2, 4))
    conversations = draw(st.integers(2, 4))
    a_user, a_conversation = st.integers(0, users - 1), st.integers(0, conversations - 1)
    participants = tuple(draw(st.frozensets(a_user)) for _ in range(conversations))
    followers = tuple(
        Follower(
            user,
            draw(st.frozensets(a_conversation)),
            draw(st.integers(0, 1)),
            draw(st.sampled_from(("sse", "ws"))),
            draw(st.booleans()),
            draw(st.none() | st.integers(0, 3)),
            draw(st.integers(0, 1)),
        )
        for user in range(users)
        for _ in range(draw(st.integers(1, 2)))
    )
    actions = draw(
        st.lists(
            st.one_of(
                st.builds(Action, st.just("post"), a_conversation),
                st.builds(Action, st.just("join"), a_conversation, a_user),
                st.builds(Action, st.just("notify"), user=a_user),
                st.just(Action("announce")),
            ),
            min_size=1,
            max_size=12,
        )
    )
    return Scenario(participants, followers, tuple(actions))


@dataclass(frozen=True)
class Seen:
    """A frame as a client saw it: a position (none for an ephemeral signal) and a type."""

    position: int | None
    type: str
    subject: str
    title: str | None = None

    @classmethod
    def of(cls, position: str | None, kind: str, body: dict[str, Any]) -> Seen:
        data = body.get("data")
        title = data.get("title") if isinstance(data, dict) else None
        return cls(int(position) if position else None, kind, body.get("subject", ""), title)


@dataclass
class Received:
    events: list[tuple[int, str]] = field(default_factory=list)
    signals_about: set[str] = field(default_factory=set)  # the subjects of ephemeral frames
    finished: bool = False


@asynccontextmanager
async def sse(url: str, token: str, cursor: int, last: int | None) -> AsyncIterator[Any]:
    """A browser's EventSource: the same URL again, with Last-Event-ID once it has one."""
    headers = {"Last-Event-ID": str(last)} if last is not None else {}
    params: dict[str, str | int] = {"token": token, "cursor": cursor}
    async with (
        httpx.AsyncClient(base_url=url, timeout=30) as browser,
        browser.stream("GET", "/v1/live", params=params, headers=headers) as response,
    ):
        assert response.status_code == 200, await response.aread()

        async def seen() -> AsyncIterator[Seen]:
            async for frame in frames(response):
                if frame.comment is None:
                    assert frame.event is not None
                    yield Seen.of(frame.id, frame.event, frame.json)

        yield seen()


@asynccontextmanager
async def ws(url: str, token: str, cursor: int, last: int | None) -> AsyncIterator[Any]:
    """A WebSocket client: it resumes by sending the last position it received."""
    ws_url = url.replace("http", "ws") + f"/v1/live/ws?token={token}"
    async with connect(ws_url) as socket:
        await socket.send(json.dumps({"cursor": cursor if last is None else last}))

        async def seen() -> AsyncIterator[Seen]:
            async for message in socket:
                body = json.loads(message)
                assert "status" not in body, body  # a problem, not an event
                kind = body["type"].rsplit(".", 1)[-1]
                yield Seen.of(None if kind in EPHEMERAL else body["id"], kind, body)

        yield seen()


async def follow(
    follower: Follower, token: str, urls: tuple[str, str], cursor: int, received: Received
) -> None:
    """Follow until the scenario's end, leaving and resuming once if the follower does."""
    stream = sse if follower.transport == "sse" else ws
    legs = [(follower.process, follower.leave_after)]
    if follower.leave_after is not None:
        legs.append((follower.resume_on, None))
    for process, leave_after in legs:
        last = received.events[-1][0] if received.events else None
        async with stream(urls[process], token, cursor, last) as seen:
            if leave_after == 0:
                continue  # connected, and gone at once
            async for frame in seen:
                if frame.position is None:
                    received.signals_about.add(frame.subject)
                    continue
                received.events.append((frame.position, frame.type))
                if frame.type == "AnnouncementMade" and frame.title == END:
                    received.finished = True
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(QUIET_S):
                            async for more in seen:  # nothing more may come
                                if more.position is not None:
                                    received.events.append((more.position, more.type))
                    return
                if leave_after is not None and len(received.events) >= leave_after:
                    break


async def act(platform: tuple[httpx.AsyncClient, ...], scenario: Scenario, ids: list[str]) -> None:
    """The scenario's commands, each through one of the two processes in turn, then the
    announcement that ends it."""
    taking_part = [set(p) for p in scenario.participants]
    for n, action in enumerate(scenario.actions):
        http = platform[n % 2]
        cid, user = ids[action.conversation], f"u{action.user}"
        match action.kind:
            case "post":
                body = {"role": "user", "content": f"message {n}"}
                response = await http.post(f"/v1/conversations/{cid}/messages", json=body)
                assert response.status_code == 201, response.text
            case "join":
                response = await http.post(
                    f"/v1/conversations/{cid}/participants", json={"user_id": user}
                )
                already = action.user in taking_part[action.conversation]
                assert response.status_code == (409 if already else 200), response.text
                taking_part[action.conversation].add(action.user)
            case "notify":
                body = {"kind": "mention", "title": f"notice {n}"}
                response = await http.post(f"/v1/users/{user}/notifications", json=body)
                assert response.status_code == 201, response.text
            case "announce":
                response = await http.post("/v1/announcements", json={"title": f"news {n}"})
                assert response.status_code == 201, response.text
    response = await platform[0].post("/v1/announcements", json={"title": END})
    assert response.status_code == 201, response.text


def allows(follower: Follower, ids: list[str], tenant: str, event: RecordedEvent) -> bool:
    """Decision 24's rule: the listed conversations, the user's inbox, announcements."""
    match event.category:
        case "conversation":
            return str(event.aggregate_id) in {ids[c] for c in follower.conversations}
        case "user":
            return event.aggregate_id == Inbox.create_id(tenant, f"u{follower.user}")
        case "announcement":
            return True
        case _:
            return False


async def play(
    scenario: Scenario,
    urls: tuple[str, str],
    tenant: str,
    key: str,
    start: int,
    container: Container,
) -> None:
    async with (
        httpx.AsyncClient(base_url=urls[0], headers=bearer(key), timeout=30) as one,
        httpx.AsyncClient(base_url=urls[1], headers=bearer(key), timeout=30) as two,
    ):
        ids = []
        for n, members in enumerate(scenario.participants):
            body = {"title": f"c{n}", "participants": [f"u{u}" for u in sorted(members)]}
            response = await one.post("/v1/conversations", json=body)
            assert response.status_code == 201, response.text
            ids.append(response.json()["id"])
        tokens = []
        for f in scenario.followers:
            listed = [ids[c] for c in f.conversations]
            tokens.append((await mint(one, user_id=f"u{f.user}", conversations=listed))["token"])
        set_up = await asyncio.to_thread(container.events.head)
        received = [Received() for _ in scenario.followers]
        followers = [
            asyncio.wait_for(
                follow(f, token, urls, start if f.from_the_start else set_up, into), FOLLOW_S
            )
            for f, token, into in zip(scenario.followers, tokens, received, strict=True)
        ]
        outcomes = await asyncio.gather(
            act((one, two), scenario, ids), *followers, return_exceptions=True
        )
    for outcome in outcomes:
        if isinstance(outcome, BaseException) and not isinstance(outcome, TimeoutError):
            raise outcome
    log = await asyncio.to_thread(container.events.after, start, 100_000, tenant)
    for follower, got in zip(scenario.followers, received, strict=True):
        cursor = start if follower.from_the_start else set_up
        expected = [
            (e.position, wire_type(e))
            for e in log
            if e.position > cursor and allows(follower, ids, tenant, e)
        ]
        assert got.events == expected, (follower, got, [(e.position, e.type) for e in log])
        assert got.finished
        assert got.signals_about <= {ids[c] for c in follower.conversations}, (follower, got)


@pytest.fixture(scope="module")
def two(servers: Settings, relaying: None) -> Iterator[tuple[str, str]]:
    with serving(servers) as one, serving(servers) as other:
        yield one, other


def test_every_live_client_receives_exactly_what_its_token_allows(
    two: tuple[str, str], issue_key: KeyFactory, container: Container
) -> None:
    with asyncio.Runner(loop_factory=asyncio.new_event_loop) as runner:

        @settings(
            max_examples=12,
            deadline=None,
            database=None,
            print_blob=True,
            suppress_health_check=[HealthCheck.too_slow],
        )
        @given(scenario=scenarios())
        def holds(scenario: Scenario) -> None:
            start = container.events.head()  # before the tenant's first event
            tenant = f"t-{uuid.uuid4().hex[:12]}"
            key = issue_key(tenant)
            runner.run(play(scenario, two, tenant, key, start, container))

        holds()
