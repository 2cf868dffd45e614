"""Schema evolution on real servers: a database written before `MessagePosted` gained its
content type (version 1 events; message read models without the column) still loads,
projects, rebuilds, replays and streams live after the change, every old message reading
as plain text. (The procedure: docs/decisions/0018-changing-an-events-shape.md.)
"""

from __future__ import annotations

import json
import uuid
from typing import Any
from uuid import UUID

import httpx
import psycopg
import pytest
from eventsourcing.persistence import Mapper, StoredEvent

from api.bootstrap import Container
from application.context import CommandContext
from domain.conversation import Conversation
from infrastructure.settings import Settings
from tests.integration.cli import run_cli
from tests.integration.conftest import serving
from tests.integration.sse import collect
from tests.integration.test_projection_engine import head, rows, scalar

OLD_READ_MODELS = {"messages": "messages", "message_search": "message_search"}


class MapperOfVersion1(Mapper[UUID]):
    """Writes `MessagePosted` as its first version did: without ``content_type`` and
    without a ``class_version`` (the library stores one from version 2 on)."""

    def to_stored_event(self, domain_event: Any) -> StoredEvent:
        record = super().to_stored_event(domain_event)
        if not isinstance(domain_event, Conversation.MessagePosted):
            return record
        state = self.transcoder.decode(record.state)
        del state["class_version"], state["content_type"]
        return StoredEvent(
            record.originator_id,
            record.originator_version,
            record.topic,
            self.transcoder.encode(state),
        )


def context(tenant: str) -> CommandContext:
    return CommandContext(tenant_id=tenant, actor="test", command="test")


def as_before_the_change(dsn: str) -> None:
    """The message read models as the version before built them: no content_type."""
    with psycopg.connect(dsn, autocommit=True) as admin:
        for name, table in OLD_READ_MODELS.items():
            admin.execute(f"DROP VIEW rm.{table}")
            admin.execute(f"ALTER TABLE rm_{name}_g1.{table} DROP COLUMN content_type")
            admin.execute(f"CREATE VIEW rm.{table} AS SELECT * FROM rm_{name}_g1.{table}")  # noqa: S608


def content_types(dsn: str, table: str, chat: UUID) -> list[str]:
    query = f"SELECT content_type FROM rm.{table} WHERE conversation_id = %s ORDER BY position"  # noqa: S608
    return [row["content_type"] for row in rows(dsn, query, (chat,))]


@pytest.fixture
def written_before(scratch: Settings) -> tuple[str, UUID]:
    """A tenant and a conversation with two messages stored and projected by the version
    before the change; the tenant's id."""
    tenant = f"t-{uuid.uuid4().hex[:10]}"
    old = Container.build(scratch)
    try:
        old.store.app.mapper = MapperOfVersion1(old.store.app.mapper.transcoder)
        conversations = old.conversations
        chat = old.portal.call(conversations.start, context(tenant), "Before", [])
        for content in ("first", "second"):
            post = conversations.post_message
            old.portal.call(post, context(tenant), chat.id, role="user", content=content)
        for name in old.projections:
            assert old.projector(name).catch_up() == head(old.dsn)
    finally:
        old.close()
    stored = rows(old.dsn, "SELECT state FROM chronicle_events WHERE topic LIKE '%%MessagePosted'")
    assert stored and all(b"content_type" not in bytes(row["state"]) for row in stored)
    as_before_the_change(old.dsn)
    return tenant, chat.id


async def test_a_database_written_before_messages_had_a_content_type_works_after_it(
    scratch: Settings, written_before: tuple[str, UUID]
) -> None:
    tenant, chat = written_before
    new = Container.build(scratch)  # a start of the new version: the columns are added
    dsn = new.dsn
    try:
        assert content_types(dsn, "messages", chat) == ["text/plain", "text/plain"]

        # loads: the aggregate from its version 1 events, upcast on the way
        conversation = new.store.load_cold(chat)
        assert isinstance(conversation, Conversation) and conversation.message_count == 2
        await new.conversations.post_message(
            context(tenant), chat, role="assistant", content="*third*", content_type="text/markdown"
        )

        # projects: old and new events alike, nothing parked
        for name in new.projections:
            assert new.projector(name).catch_up() == head(dsn), name
        assert scalar(dsn, "SELECT count(*) FROM chronicle_parked") == 0
        expected = ["text/plain", "text/plain", "text/markdown"]
        for table in OLD_READ_MODELS.values():
            assert content_types(dsn, table, chat) == expected, table
        counted = "SELECT message_count FROM rm.conversations WHERE id = %s"
        assert scalar(dsn, counted, (chat,)) == 3

        # rebuilds
        for name, table in OLD_READ_MODELS.items():
            rebuilt = run_cli(scratch, "projections", "rebuild", name, timeout=120)
            assert rebuilt.returncode == 0, rebuilt.stderr
            assert content_types(dsn, table, chat) == expected, table

        # replays: the stream and the state as of each version
        shown = run_cli(scratch, "events", "show", str(chat), "--json")
        assert shown.returncode == 0, shown.stderr
        events = json.loads(shown.stdout)["events"]
        posted = [e["data"] for e in events if e["type"] == "MessagePosted"]
        assert [p["content_type"] for p in posted] == expected
        assert [p["content"] for p in posted] == ["first", "second", "*third*"]
        as_of = run_cli(scratch, "events", "show", str(chat), "--version", "3", "--json")
        assert json.loads(as_of.stdout)["state"]["message_count"] == 2

        # streams live: from the start of the log, old messages with their content type
        issued = await new.identity.issue_key(context(tenant), tenant, "test", ["live:read"])
        token = issued.token
        with serving(scratch) as url:
            async with httpx.AsyncClient(
                base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30
            ) as http:
                params = {"cursor": 0, "subjects": f"conversation.{chat}"}
                frames = await collect(http, 4, params=params)
        live = [f.json["data"] for f in frames if f.event == "MessagePosted"]
        assert [m["content_type"] for m in live] == expected
    finally:
        new.close()
