"""The blocking client against the real API: commands and reads, read-your-writes, the
Idempotency-Key kept across retries, paging, If-Match, and problems as typed exceptions."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import httpx
import pytest

from chronicle_client import (
    Client,
    Forbidden,
    IdempotencyKeyReused,
    NotFound,
    PreconditionFailed,
    Retry,
    Unauthenticated,
    ValidationFailed,
)
from tests.integration.conftest import KeyFactory
from tests.integration.sdk.proxy import proxy

FAST = Retry(attempts=4, backoff_s=0.05)


@pytest.fixture
def key(issue_key: KeyFactory) -> str:
    return issue_key()


@pytest.fixture
def client(api_url: str, key: str) -> Iterator[Client]:
    with Client(api_url, api_key=key, read_your_writes=True, retry=FAST) as made:
        yield made


def one_connection_per_request() -> httpx.Client:
    """So that each request meets the proxy afresh (its faults apply to first requests)."""
    return httpx.Client(limits=httpx.Limits(max_keepalive_connections=0), timeout=30)


def idempotency_keys(heads: list[bytes]) -> list[bytes]:
    return [
        line for head in heads for line in head.split(b"\r\n") if b"dempotency-key" in line.lower()
    ]


def test_a_conversation_posted_to_reads_back_at_once_with_read_your_writes(
    client: Client,
) -> None:
    started = client.start_conversation(title="Launch", participants=["ada"])
    posted = client.post_message(started.id, role="user", content="hello", author="ada")
    assert client.last_position == posted.position > started.position

    conversation = client.get_conversation(started.id)
    messages = client.list_messages(started.id)
    assert (conversation.value.title, conversation.value.message_count) == ("Launch", 1)
    assert [(m.message_id, m.content) for m in messages.items] == [(posted.message_id, "hello")]


def test_a_command_whose_answer_was_lost_is_retried_with_its_key_and_applied_once(
    api_url: str, key: str
) -> None:
    with proxy(api_url) as faulty:
        http = one_connection_per_request()
        with Client(faulty.url, api_key=key, retry=FAST, http=http) as client:
            faulty.lose_answers = 1
            started = client.start_conversation(title="Once")
        keys = idempotency_keys(faulty.requests)
        assert len(keys) == 2 and keys[0] == keys[1]  # the second try carried the same key
    with Client(api_url, api_key=key, read_your_writes=True) as client:
        client.remember(started.position)
        titles = [c.title for c in client.iter_list_conversations()]
    assert titles == ["Once"]


def test_a_503_is_retried_after_its_retry_after_with_the_same_key(api_url: str, key: str) -> None:
    with (
        proxy(api_url) as faulty,
        Client(faulty.url, api_key=key, retry=FAST, http=one_connection_per_request()) as client,
    ):
        faulty.unavailable = 1
        began = time.monotonic()
        client.start_conversation(title="Patient")
        assert time.monotonic() - began >= 1.0  # Retry-After: 1
        keys = idempotency_keys(faulty.requests)
        assert len(keys) == 2 and keys[0] == keys[1]


def test_the_same_key_gives_the_same_answer_and_another_body_is_refused(client: Client) -> None:
    key = str(uuid.uuid4())
    first = client.start_conversation(title="Same", idempotency_key=key)
    again = client.start_conversation(title="Same", idempotency_key=key)
    assert again == first
    with pytest.raises(IdempotencyKeyReused) as refused:
        client.start_conversation(title="Other", idempotency_key=key)
    assert refused.value.status == 422


def test_the_paginator_follows_next_across_pages_in_order(client: Client) -> None:
    started = client.start_conversation(title="Many")
    contents = [f"m{i}" for i in range(7)]
    for content in contents:
        client.post_message(started.id, role="user", content=content)
    assert len(client.list_messages(started.id, limit=3).items) == 3
    assert [m.content for m in client.iter_list_messages(started.id, limit=3)] == contents


def test_a_stale_if_match_raises_precondition_failed_and_writes_nothing(client: Client) -> None:
    started = client.start_conversation(title="Before")
    read = client.get_conversation(started.id)
    assert read.version == read.value.version == started.version
    client.rename_conversation(started.id, title="After", if_match=read.version)
    with pytest.raises(PreconditionFailed) as stale:
        client.rename_conversation(started.id, title="Lost", if_match=read.version)
    assert stale.value.status == 412 and stale.value.type.endswith("/precondition-failed")
    assert client.get_conversation(started.id).value.title == "After"


def test_problems_map_to_typed_exceptions_with_their_fields(
    api_url: str, client: Client, issue_key: KeyFactory
) -> None:
    with pytest.raises(NotFound) as missing:
        client.get_conversation(uuid.uuid4())
    assert missing.value.status == 404 and missing.value.title and missing.value.request_id

    started = client.start_conversation(title="Strict")
    with pytest.raises(ValidationFailed) as invalid:
        client.post_message(started.id, role="user", content="")
    assert invalid.value.status == 400
    assert [(e.field, e.source) for e in invalid.value.errors] == [("content", "body")]

    with Client(api_url, api_key="chr_not_a_key") as stranger, pytest.raises(Unauthenticated):
        stranger.list_conversations()
    reader = Client(api_url, api_key=issue_key(scopes=("read",)))
    with reader, pytest.raises(Forbidden) as forbidden:
        reader.start_conversation(title="No")
    assert forbidden.value.status == 403 and forbidden.value.detail is not None


def test_a_user_token_posts_as_its_user(api_url: str, client: Client) -> None:
    started = client.start_conversation(title="Tokens")
    minted = client.mint_user_token(
        user_id="ada", scopes=["messages:write"], conversations=[started.id]
    )
    with Client(api_url, token=minted.token) as ada:
        posted = ada.post_message(started.id, role="user", content="from ada")
    client.remember(posted.position)
    [message] = client.list_messages(started.id).items
    assert (message.author, message.content) == ("ada", "from ada")
