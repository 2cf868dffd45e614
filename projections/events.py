"""Typed events for followers: one frozen struct per domain event a projection reads,
decoded from the stored state, so projections match on types and fields, not strings.

Each mirrors its domain event field for field (``tests/unit/projections/test_events.py``
holds them together), except that each personal field (``domain.privacy``) may be ``None``:
an event whose data subject was erased decodes with its personal values gone. No behaviour,
no I/O.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import msgspec
from eventsourcing.domain import Aggregate

from domain.agent_run import AgentRun
from domain.alerts import Alert, AlertRule
from domain.audit import AccessDenial
from domain.conversation import Conversation
from domain.document import Document
from domain.erasure import DataSubject
from domain.identity import ApiKey
from domain.people import Inbox
from domain.task import Task
from domain.text_ot import Op


class Metadata(msgspec.Struct, frozen=True):
    """What the command that stored an event said about itself (``application.context``);
    events written without it have the defaults."""

    tenant_id: str = ""
    actor: str | None = None
    command: str | None = None
    command_id: str | None = None
    correlation_id: str | None = None
    causation_id: str | None = None
    traceparent: str | None = None


class Event(msgspec.Struct, frozen=True, kw_only=True):
    """Where an event stands in the log, and the context it was stored in."""

    position: int
    aggregate_id: UUID
    version: int
    recorded_at: datetime
    metadata: Metadata


ENVELOPE = frozenset(Event.__struct_fields__)


class OtherEvent(Event, frozen=True):
    """An event whose fields no projection reads: its envelope and its type's name."""

    name: str


def event_name(event: Event) -> str:
    """The domain event's type name, e.g. ``MessagePosted``."""
    return event.name if isinstance(event, OtherEvent) else type(event).__name__


def names(*events: type[Event]) -> frozenset[str]:
    """The type names of typed events (a projection's ``event_types``)."""
    return frozenset(event.__name__ for event in events)


# A domain `float` is `int | float` here, as type checkers read it: a stored JSON number
# comes back as it was written (a count of tokens stays a whole number).

# Conversation


class ConversationStarted(Event, frozen=True):
    tenant_id: str
    title: str | None
    participants: list[str]


class MessagePosted(Event, frozen=True):
    message_id: UUID
    author: str | None
    role: str
    content: str | None
    tokens: int | None
    content_type: str


class ConversationRenamed(Event, frozen=True):
    title: str | None


class ConversationArchived(Event, frozen=True):
    pass


class ParticipantJoined(Event, frozen=True):
    user_id: str
    role: str
    participants: list[str]


class ParticipantLeft(Event, frozen=True):
    user_id: str
    participants: list[str]


# AgentRun


class AgentRunStarted(Event, frozen=True):
    tenant_id: str
    conversation_id: UUID
    agent: str
    model: str
    input_message_id: UUID | None
    document_id: UUID | None = None


class AgentThought(Event, frozen=True):
    text: str | None


class ToolExecutionStarted(Event, frozen=True):
    call_id: str
    tool: str
    arguments: Any


class ToolExecutionCompleted(Event, frozen=True):
    call_id: str
    result: Any
    error: str | None
    duration_ms: int


class AgentRunCompleted(Event, frozen=True):
    output_message_id: UUID
    usage: dict[str, int | float]


class AgentRunFailed(Event, frozen=True):
    error: str | None


class AgentRunCancelled(Event, frozen=True):
    reason: str


# Task


class TaskSubmitted(Event, frozen=True):
    tenant_id: str
    type: str
    payload: Any
    priority: int
    max_attempts: int
    timeout_s: int | float
    run_at: datetime
    backoff_s: int | float
    subject: str | None = None


class TaskStarted(Event, frozen=True):
    attempt: int
    worker_id: str
    lease_until: datetime


class TaskProgressed(Event, frozen=True):
    percent: int | float | None
    note: str | None
    lease_until: datetime


class TaskSucceeded(Event, frozen=True):
    result: Any


class TaskFailed(Event, frozen=True):
    error: str
    attempt: int
    retry_at: datetime | None


class TaskTimedOut(Event, frozen=True):
    attempt: int
    retry_at: datetime | None


class TaskDeadLettered(Event, frozen=True):
    last_error: str


class TaskCancelled(Event, frozen=True):
    reason: str


class TaskRequeued(Event, frozen=True):
    max_attempts: int
    run_at: datetime


# Audit


class AccessDenied(Event, frozen=True):
    actor: str
    key_id: str | None
    command: str
    target: str | None
    status: int
    reason: str
    method: str
    path: str


class RateLimitExceeded(Event, frozen=True):
    window_start: str
    refused: int


# Users


class InboxOpened(Event, frozen=True):
    tenant_id: str
    user_id: str


class NotificationSent(Event, frozen=True):
    notification_id: str
    kind: str
    title: str | None
    body: str | None
    data: dict[str, Any] | None
    priority: str


class NotificationRead(Event, frozen=True):
    notification_id: str


# Documents


class DocumentCreated(Event, frozen=True):
    tenant_id: str
    title: str | None
    content: str | None


class OperationApplied(Event, frozen=True):
    revision: int
    base_revision: int
    op: Op | None
    author: str
    source: str = ""
    seq: int = 0


class DocumentRenamed(Event, frozen=True):
    title: str | None


class DocumentArchived(Event, frozen=True):
    pass


# Alerts


class AlertRuleCreated(Event, frozen=True):
    tenant_id: str
    name: str
    metric: str
    op: str
    threshold: int | float
    window_s: int
    for_s: int
    severity: str
    labels: dict[str, str]


class AlertRuleUpdated(Event, frozen=True):
    name: str
    metric: str
    op: str
    threshold: int | float
    window_s: int
    for_s: int
    severity: str
    labels: dict[str, str]


class AlertRuleMuted(Event, frozen=True):
    until: str


class AlertRuleDeleted(Event, frozen=True):
    pass


class AlertPending(Event, frozen=True):
    tenant_id: str
    rule_id: UUID
    rule: str
    metric: str
    severity: str
    value: int | float
    since: str


class AlertFired(Event, frozen=True):
    value: int | float
    at: str


class AlertAcknowledged(Event, frozen=True):
    by: str
    note: str


class AlertResolved(Event, frozen=True):
    value: int | float | None
    at: str


# DataSubject


class SubjectErased(Event, frozen=True):
    """A data subject's keys were destroyed: what was derived from its values goes."""

    tenant_id: str
    subject: str
    reason: str
    by: str


# Each aggregate's events that projections read, each named as its domain event.
FOLLOWED: dict[type[Aggregate], tuple[type[Event], ...]] = {
    Conversation: (
        ConversationStarted,
        MessagePosted,
        ConversationRenamed,
        ConversationArchived,
        ParticipantJoined,
        ParticipantLeft,
    ),
    AgentRun: (
        AgentRunStarted,
        AgentThought,
        ToolExecutionStarted,
        ToolExecutionCompleted,
        AgentRunCompleted,
        AgentRunFailed,
        AgentRunCancelled,
    ),
    Task: (
        TaskSubmitted,
        TaskStarted,
        TaskProgressed,
        TaskSucceeded,
        TaskFailed,
        TaskTimedOut,
        TaskDeadLettered,
        TaskCancelled,
        TaskRequeued,
    ),
    AccessDenial: (AccessDenied,),
    ApiKey: (RateLimitExceeded,),
    Inbox: (InboxOpened, NotificationSent, NotificationRead),
    Document: (DocumentCreated, OperationApplied, DocumentRenamed, DocumentArchived),
    AlertRule: (AlertRuleCreated, AlertRuleUpdated, AlertRuleMuted, AlertRuleDeleted),
    Alert: (AlertPending, AlertFired, AlertAcknowledged, AlertResolved),
    DataSubject: (SubjectErased,),
}

# The typed event of each domain event class (others decode as `OtherEvent`).
TYPED: dict[type[Any], type[Event]] = {
    getattr(aggregate, typed.__name__): typed
    for aggregate, events in FOLLOWED.items()
    for typed in events
}
