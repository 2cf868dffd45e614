"""The message history and full-text search read models, applied in memory."""

from __future__ import annotations

from uuid import uuid4

from projections.events import ConversationStarted, MessagePosted
from projections.message_search import MessageSearchProjection
from projections.messages import MessagesProjection
from tests.unit.projections.memory import Log, Tables

CHAT = uuid4()


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
