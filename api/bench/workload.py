"""Synthetic event logs for benchmarks, loaded with COPY in eventsourcing's stored format."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import msgspec
import psycopg

from domain.conversation import Conversation
from domain.privacy import personal_event
from infrastructure.event_store import EVENTS_TABLE
from infrastructure.personal_fields import PersonalFields

STARTED = "domain.conversation:Conversation.ConversationStarted"
POSTED = "domain.conversation:Conversation.MessagePosted"
STARTED_TYPE, POSTED_TYPE = "ConversationStarted", "MessagePosted"
WORDS = [
    "budget", "plan", "review", "launch", "agent", "tool",
    "model", "prompt", "latency", "cost", "token", "answer",
]  # fmt: skip


def _tagged_time() -> dict[str, str]:
    return {"_type_": "datetime_iso", "_data_": datetime.now(UTC).isoformat()}


def fill_log(
    dsn: str,
    events: int,
    per_conversation: int = 500,
    tenant: str = "bench",
    personal: PersonalFields | None = None,
) -> None:
    """Append ``events`` conversation events (starts and messages) to the log with COPY;
    with ``personal``, their personal values sealed as the event store seals them."""
    encode = msgspec.json.Encoder().encode
    used: set[str] = set()

    def sealed(event: type[Any], state: dict[str, Any], aggregate: uuid.UUID, v: int) -> Any:
        declared = personal_event(event)
        if personal is None or declared is None:
            return state
        return personal.sealed_values(declared, state, tenant, aggregate, v, {}, used) or state

    metadata = {"tenant_id": tenant, "actor": "bench", "command": "bench"}
    with psycopg.connect(dsn) as conn, conn.cursor() as cursor:
        copy_sql = (
            f"COPY {EVENTS_TABLE} (originator_id, originator_version, topic, state, tenant_id,"
            " type) FROM STDIN"
        )
        with cursor.copy(copy_sql) as copy:
            written = 0
            while written < events:
                conversation = uuid.uuid4()
                started = {
                    "timestamp": _tagged_time(),
                    "originator_topic": "domain.conversation:Conversation",
                    "tenant_id": tenant,
                    "title": f"Conversation {written}",
                    "participants": ["ada", "assistant"],
                    "metadata": metadata,
                }
                started = sealed(Conversation.ConversationStarted, started, conversation, 1)  # type: ignore[attr-defined]
                copy.write_row((conversation, 1, STARTED, encode(started), tenant, STARTED_TYPE))
                written += 1
                for version in range(2, per_conversation + 1):
                    if written >= events:
                        break
                    text = " ".join(WORDS[(version * k) % len(WORDS)] for k in range(1, 12))
                    posted = {
                        "timestamp": _tagged_time(),
                        "message_id": {"_type_": "uuid_hex", "_data_": uuid.uuid4().hex},
                        "author": "ada",
                        "role": "user" if version % 2 else "assistant",
                        "content": text,
                        "tokens": len(text) // 4,
                        "content_type": "text/plain",
                        "metadata": metadata,
                        "class_version": 2,  # as MessagePosted stores it today
                    }
                    posted = sealed(Conversation.MessagePosted, posted, conversation, version)
                    copy.write_row(
                        (conversation, version, POSTED, encode(posted), tenant, POSTED_TYPE)
                    )
                    written += 1
        conn.commit()
    if personal is not None:
        personal.ring.store_now(used)


def settle(dsn: str) -> None:
    """Vacuum and analyse the loaded log and write it out, so the runs that follow do not
    share the machine with autovacuum and the flush of the load."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"VACUUM (ANALYZE) {EVENTS_TABLE}")
        conn.execute("CHECKPOINT")
