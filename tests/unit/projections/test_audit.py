"""The audit read model (one entry per command, accepted or denied), applied in memory."""

from __future__ import annotations

from uuid import uuid4

from projections.audit import AuditProjection
from projections.events import (
    AccessDenied,
    ConversationRenamed,
    MessagePosted,
    Metadata,
    OtherEvent,
    RateLimitExceeded,
)
from tests.unit.projections.memory import Log, Tables

TRACE = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def test_the_events_of_one_command_are_one_accepted_entry() -> None:
    log = Log()
    chat = uuid4()
    command = log.metadata(command="run.complete", traceparent=TRACE)
    posted = log.event(
        MessagePosted,
        chat,
        command,
        message_id=uuid4(),
        author="a",
        role="assistant",
        content="x",
        tokens=None,
        content_type="text/plain",
    )
    completed = log.event(OtherEvent, uuid4(), command, name="AgentRunCompleted")
    entry = Tables().apply(AuditProjection(), posted, completed).one("audit")
    assert (entry["command_id"], entry["position"], entry["events"]) == (
        command.command_id,
        posted.position,
        2,
    )
    assert (entry["actor"], entry["key_id"], entry["action"], entry["target"]) == (
        "key:k1",
        "k1",
        "run.complete",
        str(chat),
    )
    assert (entry["outcome"], entry["status"], entry["reason"]) == ("accepted", None, None)
    assert entry["trace_id"] == "0af7651916cd43dd8448eb211c80319c"
    assert entry["request_id"] == command.correlation_id


def test_an_event_stored_without_a_command_makes_no_entry() -> None:
    log = Log()
    event = log.event(ConversationRenamed, uuid4(), Metadata(tenant_id="acme"), title="t")
    assert Tables().apply(AuditProjection(), event).rows["audit"] == []


def test_a_refusal_is_a_denied_entry_with_its_status_reason_and_target() -> None:
    log = Log()
    denied = log.event(
        AccessDenied,
        uuid4(),
        log.metadata(actor="key:k9", command="conversation.rename"),
        actor="key:k9",
        key_id="k9",
        command="conversation.rename",
        target="conversation/123",
        status=403,
        reason="forbidden",
        method="POST",
        path="/v1/conversations/123/rename",
    )
    entry = Tables().apply(AuditProjection(), denied).one("audit")
    assert (entry["outcome"], entry["status"], entry["reason"], entry["target"]) == (
        "denied",
        403,
        "forbidden",
        "conversation/123",
    )


def test_a_minute_over_the_rate_limit_is_attributed_to_its_key() -> None:
    log = Log()
    key = uuid4()
    limited = log.event(
        RateLimitExceeded,
        key,
        log.metadata(actor="system"),
        window_start="2026-12-01T09:00:00+00:00",
        refused=7,
    )
    entry = Tables().apply(AuditProjection(), limited).one("audit")
    assert (entry["actor"], entry["key_id"], entry["outcome"], entry["status"]) == (
        f"key:{key}",
        str(key),
        "denied",
        429,
    )
    assert entry["reason"] == "rate-limited: 7 refused in the minute from 2026-12-01T09:00:00+00:00"
