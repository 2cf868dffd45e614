"""Stored events read back (no I/O: the application's mapper on in-memory persistence):
every typed event decodes from its domain event's stored state, field for field, and an
event stored before its class changed shape reads the same by both decoding paths."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import msgspec
import pytest
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import Mapper, StoredEvent

from domain.agent_run import AgentRun
from domain.alerts import Alert, AlertRule
from domain.audit import AccessDenial
from domain.conversation import Conversation
from domain.document import Document
from domain.erasure import DataSubject
from domain.identity import ApiKey
from domain.people import Inbox
from domain.task import Task
from infrastructure.stored_events import StoredEventDecoder, UnexpectedShape
from projections.events import ENVELOPE, TYPED, MessagePosted, OtherEvent

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
METADATA = {"tenant_id": "acme", "actor": "key:k1", "command": "test", "command_id": "c1"}


def every_followed_event() -> list[Any]:
    """One of each domain event a projection reads, as commands trigger them."""
    chat = Conversation.start("acme", "Plans", ["ann"])
    chat.post_message(uuid4(), "user", "hello", "ann", 3, "text/markdown")
    chat.rename("Later plans")
    chat.join("bob", "guest")
    chat.leave("ann")
    chat.archive()
    run = AgentRun.begin("acme", chat.id, "planner", "m-1", None)
    run.think("search first")
    run.start_tool("c1", "search", {"q": "x"})
    run.finish_tool("c1", {"hits": 2}, None, 42)
    run.complete(uuid4(), {"input_tokens": 10, "output_tokens": 4, "cost_usd": 0.002})
    failing = AgentRun.begin("acme", chat.id, "planner", "m-1", uuid4())
    failing.fail("model overloaded")
    cancelled = AgentRun.begin("acme", chat.id, "planner", "m-1", None)
    cancelled.cancel("user left")
    done = Task.submit("acme", "resize", {"w": 100}, 5, 3, 30, NOW, 1.5)
    done.start("w1", NOW)
    done.heartbeat(NOW, 50.0, "half")
    done.succeed({"ok": True})
    retried = Task.submit("acme", "resize", None, 0, 1, 0.5, NOW, 0)
    retried.start("w1", NOW)
    retried.time_out(NOW + timedelta(hours=1), 1.0)  # out of attempts: dead-lettered too
    retried.retry(NOW + timedelta(hours=2))  # and given one more attempt
    flaky = Task.submit("acme", "resize", None, 0, 3, 30, NOW, 2)
    flaky.start("w1", NOW)
    flaky.fail("flaky", True, NOW, 0.5)
    dropped = Task.submit("acme", "resize", None, 0, 3, 30, NOW, 2)
    dropped.cancel("not needed")
    denial = AccessDenial(
        "key:k9", "k9", "conversation.rename", None, 403, "forbidden", "POST", "/"
    )
    key = ApiKey.issue("acme", "ci", ["read"], "0" * 64)
    key.rate_limited("2026-12-01T09:00:00+00:00", 7)
    inbox = Inbox.open("acme", "ann")
    inbox.send("n1", "mention", "You were mentioned", "", {"link": "/c/1"}, "high")
    inbox.mark_read("n1")
    document = Document.create("acme", "Notes", "héllo 😭")
    document.submit([6, {"d": 1}, "🙂"], 0, "ann", [], "client-1", 1)
    document.rename("Later notes")
    document.archive()
    rule = AlertRule.create("acme", "runs failing", "runs_failed", ">=", 2, 300, 60)
    rule.update("runs failing", "runs_failed", ">", 2.5, 600, 0, "critical", {"team": "a"})
    rule.mute(NOW)
    alert = Alert.open(rule, 3, NOW)
    alert.fire(3.5, NOW)
    alert.acknowledge("key:k1", "looking")
    alert.resolve(None, NOW)
    rule.delete()
    erased = DataSubject.erase_first("acme", "user:ann", "asked", "key:k1")
    aggregates: list[Aggregate] = [chat, run, failing, cancelled, done, retried, flaky]
    followed = [*aggregates, dropped, denial, key, inbox, document, rule, alert, erased]
    events = [e for a in followed for e in a.collect_events()]
    for event in events:
        object.__setattr__(event, "metadata", METADATA)
    return events


def stored(mapper: Mapper[UUID], event: Any) -> StoredEvent:
    return mapper.to_stored_event(event)


def columns(record: StoredEvent) -> tuple[UUID, int, str, bytes]:
    """What the events table holds of a stored event (beside its position)."""
    assert isinstance(record.originator_id, UUID)
    return record.originator_id, record.originator_version, record.topic, record.state


def decode_typed(mapper: Mapper[UUID], record: StoredEvent) -> Any:
    return StoredEventDecoder(mapper).typed(7, *columns(record))


def test_every_typed_event_decodes_from_its_domain_events_stored_state(
    mapper: Mapper[UUID],
) -> None:
    events = every_followed_event()
    assert set(TYPED) <= {type(event) for event in events}, "an event without a sample"
    for event in events:
        typed = decode_typed(mapper, stored(mapper, event))
        if type(event) not in TYPED:
            assert isinstance(typed, OtherEvent) and typed.name == type(event).__name__
            continue
        assert type(typed) is TYPED[type(event)]
        fields = [name for name in type(typed).__struct_fields__ if name not in ENVELOPE]
        assert {name: getattr(typed, name) for name in fields} == {
            name: getattr(event, name) for name in fields
        }, type(typed).__name__
        assert (typed.aggregate_id, typed.version, typed.recorded_at) == (
            event.originator_id,
            event.originator_version,
            event.timestamp,
        )
        assert (typed.position, typed.metadata.tenant_id, typed.metadata.actor) == (
            7,
            "acme",
            "key:k1",
        )


def as_version_1(mapper: Mapper[UUID], record: StoredEvent) -> StoredEvent:
    """The stored event as MessagePosted's first version wrote it: no content type, no
    class version (the library writes one only from version 2 on)."""
    state = json.loads(record.state)
    assert state.pop("class_version") == 2 and state.pop("content_type")
    as_written = mapper.transcoder.encode(mapper.transcoder.decode(json.dumps(state).encode()))
    return StoredEvent(record.originator_id, record.originator_version, record.topic, as_written)


def posted_as(content_type: str) -> Any:
    chat = Conversation.start("acme", "Plans", [])
    chat.post_message(uuid4(), "user", "hello", None, None, content_type)
    event = chat.collect_events()[1]
    object.__setattr__(event, "metadata", METADATA)
    return event


def test_a_message_stored_before_content_types_reads_as_plain_text_both_ways(
    mapper: Mapper[UUID],
) -> None:
    """Version 1 bytes take the library's upcasting path, version 2 bytes the direct one:
    the same message reads the same either way, typed and as an envelope."""
    current = stored(mapper, posted_as("text/plain"))
    old = as_version_1(mapper, current)
    assert b"content_type" not in old.state and b"class_version" not in old.state
    decoder = StoredEventDecoder(mapper)
    from_old = decode_typed(mapper, old)
    assert isinstance(from_old, MessagePosted) and from_old.content_type == "text/plain"
    assert from_old == decode_typed(mapper, current)
    old_envelope = decoder.recorded(7, *columns(old))
    new_envelope = decoder.recorded(7, *columns(current))
    assert old_envelope == new_envelope and old_envelope.data["content_type"] == "text/plain"
    upcast_by_the_library = vars(mapper.to_domain_event(old))
    assert old_envelope.data == msgspec.to_builtins(
        {name: upcast_by_the_library[name] for name in old_envelope.data}
    )


def test_a_message_of_another_content_type_keeps_it(mapper: Mapper[UUID]) -> None:
    typed = decode_typed(mapper, stored(mapper, posted_as("text/markdown")))
    assert typed.content_type == "text/markdown"


def test_a_state_that_does_not_fit_its_typed_event_names_its_tenant(
    mapper: Mapper[UUID],
) -> None:
    record = stored(mapper, posted_as("text/plain"))
    state = json.loads(record.state)
    state["contents"] = state.pop("content")  # as a rename without an upcast would store it
    renamed = StoredEvent(
        record.originator_id, record.originator_version, record.topic, json.dumps(state).encode()
    )
    with pytest.raises(UnexpectedShape) as error:
        decode_typed(mapper, renamed)
    assert error.value.tenant_id == "acme"
    assert "MessagePosted" in str(error.value) and "content" in str(error.value)
