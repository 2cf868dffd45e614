"""The message history and full-text search read models, applied in memory."""

from __future__ import annotations

from uuid import UUID, uuid4

import pytest

from projections.events import ConversationStarted, MessagePosted
from projections.message_search import MessageSearchProjection
from projections.messages import MessageRowsProjection, MessagesProjection
from tests.unit.projections.memory import Log, Tables, erasure, unreadable

CHAT = UUID("0190b7e4-0000-7000-8000-00000000c4a7")  # fixed: test ids name it


def test_a_posted_message_is_a_row_of_its_conversation_at_its_position() -> None:
    log = Log(tenant="acme")
    message_id = uuid4()
    posted = log.event(
        MessagePosted,
        CHAT,
        message_id=message_id,
        author="ann",
        role="user",
        content="*hello*",
        tokens=None,
        content_type="text/markdown",
    )
    row = Tables().apply(MessagesProjection(), posted).one("messages", message_id=message_id)
    assert row == {
        "message_id": message_id,
        "conversation_id": CHAT,
        "tenant_id": "acme",
        "role": "user",
        "author": "ann",
        "content": "*hello*",
        "tokens": None,
        "position": posted.position,
        "created_at": posted.recorded_at,
        "content_type": "text/markdown",
    }


def test_search_keeps_the_same_rows_in_its_own_table() -> None:
    log = Log()
    posted = log.event(
        MessagePosted,
        CHAT,
        message_id=uuid4(),
        author="a",
        role="user",
        content="x",
        tokens=1,
        content_type="text/plain",
    )
    history = Tables().apply(MessagesProjection(), posted).rows["messages"]
    search = Tables().apply(MessageSearchProjection(), posted).rows["message_search"]
    assert search == history and len(history) == 1


def test_other_events_of_a_conversation_write_no_message() -> None:
    log = Log()
    started = log.event(ConversationStarted, CHAT, tenant_id="acme", title="t", participants=[])
    assert list(MessagesProjection().apply(started)) == []


def message(log: Log, author: str, role: str = "user", chat: UUID = CHAT) -> MessagePosted:
    return log.event(
        MessagePosted,
        chat,
        message_id=uuid4(),
        author=author,
        role=role,
        content=f"said by {author}",
        tokens=3,
        content_type="text/plain",
    )


BOTH = [MessagesProjection(), MessageSearchProjection()]


@pytest.mark.parametrize("projection", BOTH, ids=lambda p: p.name)
def test_erasing_a_user_redacts_what_they_posted_as_a_user_and_nothing_else(
    projection: MessageRowsProjection,
) -> None:
    log, other = Log(), Log(tenant="other")
    own = message(log, "ann")
    as_agent = message(log, "ann", role="assistant")  # not bound to ann: an agent's words
    bobs = message(log, "bob")
    elsewhere = message(other, "ann")  # another tenant's ann
    tables = Tables().apply(projection, own, as_agent, bobs, elsewhere, erasure(log, "user:ann"))
    (table,) = projection.tables
    row = tables.one(table, message_id=own.message_id)
    assert (row["content"], row["author"], row["role"]) == (None, None, "user")
    for kept in (as_agent, bobs, elsewhere):
        assert tables.one(table, message_id=kept.message_id)["content"] == kept.content


@pytest.mark.parametrize("projection", BOTH, ids=lambda p: p.name)
def test_erasing_a_conversation_redacts_each_of_its_messages(
    projection: MessageRowsProjection,
) -> None:
    log, chat = Log(), uuid4()
    inside = [message(log, "ann", chat=chat), message(log, "bot", "assistant", chat=chat)]
    outside = message(log, "ann")
    tables = Tables().apply(projection, *inside, outside, erasure(log, f"conversation:{chat}"))
    (table,) = projection.tables
    assert [(r["content"], r["author"]) for r in tables.where(table, conversation_id=chat)] == [
        (None, None),
        (None, None),
    ]
    assert tables.one(table, message_id=outside.message_id)["author"] == "ann"


@pytest.mark.parametrize("subject", ["user:ann", f"conversation:{CHAT}"])
def test_a_rebuild_after_an_erasure_makes_the_rows_the_erasure_left(subject: str) -> None:
    log = Log()
    events = [message(log, "ann"), message(log, "bob"), message(log, "ann", "assistant")]
    tombstone = erasure(log, subject)

    def bound(event: MessagePosted) -> bool:
        return subject != "user:ann" or (event.author, event.role) == ("ann", "user")

    live = Tables().apply(MessagesProjection(), *events, tombstone)
    decoded = [unreadable(e) if bound(e) else e for e in events]
    rebuilt = Tables().apply(MessagesProjection(), *decoded, tombstone)
    assert rebuilt.rows == live.rows
    assert sum(r["content"] is None for r in live.rows["messages"]) == sum(map(bound, events))


def test_an_erasure_of_a_subject_that_names_no_conversation_changes_nothing() -> None:
    log = Log()
    posted = message(log, "ann")
    for subject in ("conversation:not-a-uuid", f"conversation:{str(CHAT).upper()}", "document:x"):
        statements = list(MessagesProjection().apply(erasure(log, subject)))
        assert statements == [], subject
    assert Tables().apply(MessagesProjection(), posted).one("messages")["content"] == "said by ann"
