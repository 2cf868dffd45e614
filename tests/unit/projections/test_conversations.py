"""The conversations read model, applied in memory."""

from __future__ import annotations

import json
from uuid import uuid4

from projections.conversations import ConversationsProjection
from projections.events import (
    ConversationArchived,
    ConversationRenamed,
    ConversationStarted,
    MessagePosted,
)
from tests.unit.projections.memory import Log, Tables, erasure, unreadable

CHAT = uuid4()


def started(log: Log) -> ConversationStarted:
    return log.event(
        ConversationStarted, CHAT, tenant_id="acme", title="Plans", participants=["ann", "bob"]
    )


def posted(log: Log) -> MessagePosted:
    return log.event(
        MessagePosted,
        CHAT,
        message_id=uuid4(),
        author="ann",
        role="user",
        content="hi",
        tokens=2,
        content_type="text/plain",
    )


def test_a_started_conversation_has_its_title_participants_and_no_messages() -> None:
    log = Log()
    start = started(log)
    row = Tables().apply(ConversationsProjection(), start).one("conversations", id=CHAT)
    assert (row["tenant_id"], row["title"], json.loads(row["participants"])) == (
        "acme",
        "Plans",
        ["ann", "bob"],
    )
    assert (row["message_count"], row["archived"], row["version"]) == (0, False, 1)
    assert row["created_at"] == row["updated_at"] == row["last_activity_at"] == start.recorded_at
    assert row["started_position"] == start.position


def test_each_message_counts_and_moves_the_last_activity() -> None:
    log = Log()
    events = [started(log), posted(log), posted(log)]
    row = Tables().apply(ConversationsProjection(), *events).one("conversations", id=CHAT)
    assert (row["message_count"], row["version"]) == (2, 3)
    assert row["last_activity_at"] == row["updated_at"] == events[-1].recorded_at
    assert row["created_at"] == events[0].recorded_at


def test_renaming_changes_the_title_and_archiving_marks_it_without_counting_a_message() -> None:
    log = Log()
    start = started(log)
    renamed = log.event(ConversationRenamed, CHAT, title="Later plans")
    archived = log.event(ConversationArchived, CHAT)
    row = (
        Tables()
        .apply(ConversationsProjection(), start, renamed, archived)
        .one("conversations", id=CHAT)
    )
    assert (row["title"], row["archived"], row["message_count"]) == ("Later plans", True, 0)
    assert (row["version"], row["updated_at"]) == (3, archived.recorded_at)
    assert row["last_activity_at"] == start.recorded_at


def test_erasing_a_conversation_redacts_its_title_and_keeps_the_rest() -> None:
    log, other = Log(), uuid4()
    events = [started(log), posted(log), log.event(ConversationRenamed, CHAT, title="Secret")]
    elsewhere = log.event(
        ConversationStarted, other, tenant_id="acme", title="Kept", participants=[]
    )
    before = Tables().apply(ConversationsProjection(), *events).one("conversations", id=CHAT)
    tables = Tables().apply(
        ConversationsProjection(), *events, elsewhere, erasure(log, f"conversation:{CHAT}")
    )
    assert tables.one("conversations", id=CHAT) == before | {"title": None}
    assert tables.one("conversations", id=other)["title"] == "Kept"


def test_an_erasure_of_another_tenants_conversation_changes_nothing() -> None:
    log = Log()
    tables = Tables().apply(ConversationsProjection(), started(log))
    tables.apply(ConversationsProjection(), erasure(log, f"conversation:{CHAT}", tenant="other"))
    assert tables.one("conversations", id=CHAT)["title"] == "Plans"


def test_a_rebuild_after_erasing_a_conversation_makes_the_row_the_erasure_left() -> None:
    log = Log()
    events = [started(log), posted(log), log.event(ConversationRenamed, CHAT, title="Secret")]
    tombstone = erasure(log, f"conversation:{CHAT}")
    live = Tables().apply(ConversationsProjection(), *events, tombstone)
    rebuilt = Tables().apply(ConversationsProjection(), *map(unreadable, events), tombstone)
    assert rebuilt.rows == live.rows
