"""The bodies Chronicle reads and answers, one msgspec Struct per schema of its OpenAPI
document. Written by ``generate.py``: do not edit.
"""

from __future__ import annotations

from typing import Any, Literal

from msgspec import Struct

JsonValue = Any  # any JSON value (Chronicle bounds its nesting and size)

__all__ = [
    "Acknowledge",
    "AlertPage",
    "AlertRow",
    "Announce",
    "AppliedOp",
    "AuditEntry",
    "AuditPage",
    "Buffered",
    "Cancel",
    "CancelTask",
    "CapsOut",
    "Changed",
    "ClaimRequest",
    "Claimed",
    "ClaimedTask",
    "Complete",
    "CompleteTask",
    "ConversationPage",
    "ConversationRow",
    "CreateDocument",
    "Created",
    "Current",
    "CurrentMetrics",
    "Dashboard",
    "Delete",
    "DeleteComponent",
    "DeliveryOut",
    "DeliveryPage",
    "Delta",
    "DocumentCreated",
    "DocumentPage",
    "DocumentRow",
    "DocumentState",
    "Erase",
    "Erased",
    "EventSummary",
    "ExportedValueOut",
    "Fail",
    "FailTask",
    "Heartbeat",
    "Join",
    "JsonValue",
    "KeyOut",
    "KeyPage",
    "KeyRotated",
    "LiveStatsOut",
    "Liveness",
    "MessageCreated",
    "MessageOut",
    "MessagePage",
    "MintToken",
    "Minted",
    "Mute",
    "NotificationPage",
    "NotificationRow",
    "OperationPage",
    "Point",
    "PostMessage",
    "Presence",
    "Present",
    "Problem",
    "ProblemField",
    "ProjectionState",
    "Readiness",
    "RegisterWebhook",
    "RenameConversation",
    "RenameDocument",
    "Revoke",
    "Revoked",
    "RotateKey",
    "RuleBody",
    "RulePage",
    "RuleRow",
    "SearchHitOut",
    "SearchPage",
    "SendNotification",
    "Series",
    "StartConversation",
    "StartRun",
    "StateOut",
    "StoredEventOut",
    "StreamPage",
    "SubjectExportOut",
    "Submit",
    "SubmitOperation",
    "Thinking",
    "ToolCall",
    "ToolResult",
    "Typing",
    "TypingBy",
    "Usage",
    "WebhookCreated",
    "WebhookOut",
    "WebhookPage",
]


class Acknowledge(Struct, kw_only=True, omit_defaults=True):
    """The `Acknowledge` schema."""

    note: str = ""


class AlertPage(Struct, kw_only=True, omit_defaults=True):
    """The `AlertPage` schema."""

    items: list[AlertRow]
    next: str | None


class AlertRow(Struct, kw_only=True, omit_defaults=True):
    """The `AlertRow` schema."""

    alert_id: str
    rule_id: str
    rule: str
    metric: str
    severity: str
    state: str
    value: float | None
    since: str
    fired_at: str | None
    acknowledged_by: str | None
    acknowledged_at: str | None
    note: str | None
    resolved_at: str | None
    version: int
    position: int


class Announce(Struct, kw_only=True, omit_defaults=True):
    """The `Announce` schema."""

    title: str
    body: str = ""
    priority: Literal["high", "low", "normal", "urgent"] = "normal"


class AppliedOp(Struct, kw_only=True, omit_defaults=True):
    """An op as the log holds it: applied at ``revision``, made on ``base_revision``."""

    revision: int
    base_revision: int
    op: list[int | str | Delete]
    author: str
    source: str
    seq: int
    version: int
    position: int


class AuditEntry(Struct, kw_only=True, omit_defaults=True):
    """The `AuditEntry` schema."""

    position: int
    at: str
    actor: str
    key_id: str | None
    action: str
    target: str | None
    outcome: str
    status: int | None
    reason: str | None
    request_id: str | None
    trace_id: str | None
    command_id: str
    events: int


class AuditPage(Struct, kw_only=True, omit_defaults=True):
    """The `AuditPage` schema."""

    items: list[AuditEntry]
    next: str | None


class Buffered(Struct, kw_only=True, omit_defaults=True):
    """The `Buffered` schema."""

    buffered_bytes: int


class Cancel(Struct, kw_only=True, omit_defaults=True):
    """The `Cancel` schema."""

    reason: str = ""


class CancelTask(Struct, kw_only=True, omit_defaults=True):
    """The `CancelTask` schema."""

    reason: str = ""


class CapsOut(Struct, kw_only=True, omit_defaults=True):
    """The `CapsOut` schema."""

    per_tenant: int
    per_key: int
    per_user: int
    frames_per_second: int


class Changed(Struct, kw_only=True, omit_defaults=True):
    """The aggregate's new version and the position of the last event written."""

    version: int
    position: int


class ClaimRequest(Struct, kw_only=True, omit_defaults=True):
    """The `ClaimRequest` schema."""

    worker_id: str
    types: list[str]
    wait_s: float = 0.0


class Claimed(Struct, kw_only=True, omit_defaults=True):
    """The `Claimed` schema."""

    task: ClaimedTask
    attempt: int
    lease_until: str
    version: int
    position: int
    traceparent: str | None = None


class ClaimedTask(Struct, kw_only=True, omit_defaults=True):
    """What a worker needs, from the task itself (the read model may not have caught up)."""

    id: str
    type: str
    payload: Any
    priority: int
    max_attempts: int
    timeout_s: float


class Complete(Struct, kw_only=True, omit_defaults=True):
    """The `Complete` schema."""

    content: str | None = None
    usage: Usage | None = None


class CompleteTask(Struct, kw_only=True, omit_defaults=True):
    """The `CompleteTask` schema."""

    result: JsonValue = None


class ConversationPage(Struct, kw_only=True, omit_defaults=True):
    """The `ConversationPage` schema."""

    items: list[ConversationRow]
    next: str | None


class ConversationRow(Struct, kw_only=True, omit_defaults=True):
    """The `ConversationRow` schema."""

    id: str
    title: str | None
    participants: list[str]
    message_count: int
    archived: bool
    version: int
    created_at: str
    updated_at: str
    last_activity_at: str


class CreateDocument(Struct, kw_only=True, omit_defaults=True):
    """The `CreateDocument` schema."""

    title: str
    content: str = ""


class Created(Struct, kw_only=True, omit_defaults=True):
    """A new aggregate: its id, version and the position of its last event."""

    id: str
    version: int
    position: int


class Current(Struct, kw_only=True, omit_defaults=True):
    """The `Current` schema."""

    name: str
    description: str
    last_24h: float | None
    this_minute: float | None


class CurrentMetrics(Struct, kw_only=True, omit_defaults=True):
    """The `CurrentMetrics` schema."""

    at: str
    items: list[Current]


class Dashboard(Struct, kw_only=True, omit_defaults=True):
    """The `Dashboard` schema."""

    day: str
    today: dict[str, float | None]
    last_hour: dict[str, list[Point]]
    tasks: str


class Delete(Struct, kw_only=True, omit_defaults=True):
    """A delete component: ``{"d": n}`` removes ``n`` code points."""

    d: int


class DeleteComponent(Struct, kw_only=True, omit_defaults=True):
    """The `DeleteComponent` schema."""

    d: int


class DeliveryOut(Struct, kw_only=True, omit_defaults=True):
    """The `DeliveryOut` schema."""

    delivery_id: str
    position: int
    event_type: str
    status: str
    attempts: int
    last_error: str | None
    response_code: int | None
    next_attempt_at: str | None
    created_at: str
    updated_at: str


class DeliveryPage(Struct, kw_only=True, omit_defaults=True):
    """The `DeliveryPage` schema."""

    items: list[DeliveryOut]
    next: str | None


class Delta(Struct, kw_only=True, omit_defaults=True):
    """The `Delta` schema."""

    text: str


class DocumentCreated(Struct, kw_only=True, omit_defaults=True):
    """The `DocumentCreated` schema."""

    id: str
    revision: int
    version: int
    position: int


class DocumentPage(Struct, kw_only=True, omit_defaults=True):
    """The `DocumentPage` schema."""

    items: list[DocumentRow]
    next: str | None


class DocumentRow(Struct, kw_only=True, omit_defaults=True):
    """A document as listed: its content's length, not the content."""

    id: str
    title: str | None
    length: int | None
    revision: int
    collaborators: list[str]
    archived: bool
    version: int
    created_at: str
    updated_at: str


class DocumentState(Struct, kw_only=True, omit_defaults=True):
    """The `DocumentState` schema."""

    id: str
    title: str
    content: str
    revision: int
    archived: bool
    version: int


class Erase(Struct, kw_only=True, omit_defaults=True):
    """The `Erase` schema."""

    reason: str


class Erased(Struct, kw_only=True, omit_defaults=True):
    """The `Erased` schema."""

    version: int
    position: int
    subject: str


class EventSummary(Struct, kw_only=True, omit_defaults=True):
    """The `EventSummary` schema."""

    position: int
    version: int
    type: str
    recorded_at: str


class ExportedValueOut(Struct, kw_only=True, omit_defaults=True):
    """The `ExportedValueOut` schema."""

    position: int
    type: str
    aggregate_id: str
    version: int
    recorded_at: str
    fields: dict[str, Any]
    unreadable: dict[str, str]


class Fail(Struct, kw_only=True, omit_defaults=True):
    """The `Fail` schema."""

    error: str


class FailTask(Struct, kw_only=True, omit_defaults=True):
    """The `FailTask` schema."""

    error: str
    retryable: bool = True


class Heartbeat(Struct, kw_only=True, omit_defaults=True):
    """The `Heartbeat` schema."""

    progress: float | None = None
    note: str | None = None


class Join(Struct, kw_only=True, omit_defaults=True):
    """The `Join` schema."""

    user_id: str
    role: str = "member"


class KeyOut(Struct, kw_only=True, omit_defaults=True):
    """The `KeyOut` schema."""

    key_id: str
    name: str
    scopes: list[str]
    revoked: bool
    created_at: str
    rotated_from: str | None


class KeyPage(Struct, kw_only=True, omit_defaults=True):
    """The `KeyPage` schema."""

    items: list[KeyOut]
    next: str | None


class KeyRotated(Struct, kw_only=True, omit_defaults=True):
    """The `KeyRotated` schema."""

    version: int
    rotated_at: str
    previous_accepted_until: str
    position: int


class LiveStatsOut(Struct, kw_only=True, omit_defaults=True):
    """The `LiveStatsOut` schema."""

    connections: int
    by_transport: dict[str, int]
    by_user: dict[str, int]
    delivered: int
    resyncs: int
    caps: CapsOut


class Liveness(Struct, kw_only=True, omit_defaults=True):
    """The `Liveness` schema."""

    status: Literal["ok"]


class MessageCreated(Struct, kw_only=True, omit_defaults=True):
    """The `MessageCreated` schema."""

    message_id: str
    version: int
    position: int


class MessageOut(Struct, kw_only=True, omit_defaults=True):
    """A message; an erased one has no content and no author (``null``), and says so."""

    message_id: str
    role: str
    author: str | None
    content: str | None
    tokens: int | None
    position: int
    created_at: str
    content_type: str
    erased: bool


class MessagePage(Struct, kw_only=True, omit_defaults=True):
    """The `MessagePage` schema."""

    items: list[MessageOut]
    next: str | None


class MintToken(Struct, kw_only=True, omit_defaults=True):
    """The `MintToken` schema."""

    user_id: str
    scopes: list[Literal["documents:write", "live:read", "messages:write", "presence:write"]]
    conversations: list[str] = []
    documents: list[str] = []
    name: str = ""
    ttl_s: int = 3600


class Minted(Struct, kw_only=True, omit_defaults=True):
    """The `Minted` schema."""

    token: str
    token_id: str
    user_id: str
    expires_at: str


class Mute(Struct, kw_only=True, omit_defaults=True):
    """The `Mute` schema."""

    until: str


class NotificationPage(Struct, kw_only=True, omit_defaults=True):
    """The `NotificationPage` schema."""

    items: list[NotificationRow]
    unread: int
    next: str | None


class NotificationRow(Struct, kw_only=True, omit_defaults=True):
    """The `NotificationRow` schema."""

    notification_id: str
    kind: str
    title: str | None
    body: str | None
    data: dict[str, Any] | None
    priority: str
    sent_at: str
    read_at: str | None
    position: int


class OperationPage(Struct, kw_only=True, omit_defaults=True):
    """The `OperationPage` schema."""

    items: list[AppliedOp]
    next: str | None


class Point(Struct, kw_only=True, omit_defaults=True):
    """The `Point` schema."""

    at: str
    value: float | None


class PostMessage(Struct, kw_only=True, omit_defaults=True):
    """The `PostMessage` schema."""

    role: Literal["assistant", "system", "tool", "user"]
    content: str
    author: str | None = None
    tokens: int | None = None
    content_type: str = "text/plain"


class Presence(Struct, kw_only=True, omit_defaults=True):
    """The `Presence` schema."""

    conversation_id: str
    users: list[Present]


class Present(Struct, kw_only=True, omit_defaults=True):
    """The `Present` schema."""

    user_id: str
    connections: int


class Problem(Struct, kw_only=True, omit_defaults=True):
    """An RFC 9457 problem document"""

    type: str
    title: str
    status: int
    detail: str | None = None
    errors: list[ProblemField] | None = None


class ProblemField(Struct, kw_only=True, omit_defaults=True):
    """The `ProblemField` schema."""

    field: str
    message: str
    source: Literal["body", "query", "header", "path", "cookie"]


class ProjectionState(Struct, kw_only=True, omit_defaults=True):
    """The `ProjectionState` schema."""

    state: str
    position: int
    lag: int
    parked: int


class Readiness(Struct, kw_only=True, omit_defaults=True):
    """The `Readiness` schema."""

    status: Literal["degraded", "ready"]
    checks: dict[str, Literal["ok", "unreachable"]]
    projections: dict[str, ProjectionState]


class RegisterWebhook(Struct, kw_only=True, omit_defaults=True):
    """The `RegisterWebhook` schema."""

    url: str
    events: list[str]
    secret: str | None = None


class RenameConversation(Struct, kw_only=True, omit_defaults=True):
    """The `RenameConversation` schema."""

    title: str


class RenameDocument(Struct, kw_only=True, omit_defaults=True):
    """The `RenameDocument` schema."""

    title: str


class Revoke(Struct, kw_only=True, omit_defaults=True):
    """The `Revoke` schema."""

    reason: str = ""


class Revoked(Struct, kw_only=True, omit_defaults=True):
    """The `Revoked` schema."""

    user_id: str
    revoked_before: str
    position: int


class RotateKey(Struct, kw_only=True, omit_defaults=True):
    """The `RotateKey` schema."""

    retire_previous: Literal["at_expiry", "now"] = "at_expiry"


class RuleBody(Struct, kw_only=True, omit_defaults=True):
    """A rule: ``metric op threshold`` over the last ``window_s`` seconds, held for ``for_s``
    seconds before it fires.
    """

    name: str
    metric: Literal[
        "budget_used_ratio",
        "commands",
        "cost_usd",
        "events",
        "http_p95_ms",
        "live_connections",
        "messages",
        "parked_events",
        "projection_lag_s",
        "relay_lag_events",
        "runs_cancelled",
        "runs_completed",
        "runs_failed",
        "runs_started",
        "store_available",
        "task_queue_latency_ms_p95",
        "tasks_dead_lettered",
        "tasks_failed",
        "tasks_submitted",
        "tasks_succeeded",
        "tokens_input",
        "tokens_output",
        "tool_calls",
        "tool_duration_ms_p95",
    ]
    op: Literal["!=", "<", "<=", "==", ">", ">="]
    threshold: float
    window_s: int
    for_s: int = 0
    severity: Literal["critical", "info", "warning"] = "warning"
    labels: dict[str, str] = {}


class RulePage(Struct, kw_only=True, omit_defaults=True):
    """The `RulePage` schema."""

    items: list[RuleRow]
    next: str | None


class RuleRow(Struct, kw_only=True, omit_defaults=True):
    """The `RuleRow` schema."""

    rule_id: str
    name: str
    metric: str
    op: str
    threshold: float
    window_s: int
    for_s: int
    severity: str
    labels: dict[str, str]
    muted_until: str | None
    version: int
    created_at: str
    updated_at: str
    position: int


class SearchHitOut(Struct, kw_only=True, omit_defaults=True):
    """The `SearchHitOut` schema."""

    conversation_id: str
    message_id: str
    role: str
    author: str | None
    content: str | None
    snippet: str
    rank: float
    position: int
    created_at: str


class SearchPage(Struct, kw_only=True, omit_defaults=True):
    """The `SearchPage` schema."""

    items: list[SearchHitOut]
    next: str | None


class SendNotification(Struct, kw_only=True, omit_defaults=True):
    """The `SendNotification` schema."""

    kind: str
    title: str
    body: str = ""
    data: dict[str, JsonValue] = {}
    priority: Literal["high", "low", "normal", "urgent"] = "normal"


class Series(Struct, kw_only=True, omit_defaults=True):
    """The `Series` schema."""

    name: str
    label: str | None
    step: str
    points: list[Point]


class StartConversation(Struct, kw_only=True, omit_defaults=True):
    """The `StartConversation` schema."""

    title: str
    participants: list[str] = []


class StartRun(Struct, kw_only=True, omit_defaults=True):
    """The `StartRun` schema."""

    conversation_id: str
    agent: str
    model: str
    input_message_id: str | None = None
    document_id: str | None = None


class StateOut(Struct, kw_only=True, omit_defaults=True):
    """The `StateOut` schema."""

    id: str
    type: str
    version: int
    state: dict[str, Any]
    events: list[EventSummary]


class StoredEventOut(Struct, kw_only=True, omit_defaults=True):
    """The `StoredEventOut` schema."""

    position: int
    version: int
    type: str
    data: dict[str, Any]
    metadata: dict[str, Any]
    recorded_at: str


class StreamPage(Struct, kw_only=True, omit_defaults=True):
    """The `StreamPage` schema."""

    items: list[StoredEventOut]
    next: str | None


class SubjectExportOut(Struct, kw_only=True, omit_defaults=True):
    """The `SubjectExportOut` schema."""

    subject: str
    tenant: str
    exported_at: str
    values: list[ExportedValueOut]


class Submit(Struct, kw_only=True, omit_defaults=True):
    """The `Submit` schema."""

    type: str
    payload: JsonValue = None
    priority: int = 0
    max_attempts: int = 3
    timeout_s: float = 60.0
    run_at: str | None = None
    backoff_s: float = 1.0
    subject: str | None = None


class SubmitOperation(Struct, kw_only=True, omit_defaults=True):
    """The `SubmitOperation` schema."""

    base_revision: int
    op: list[int | str | DeleteComponent]
    author: str | None = None
    source: str = ""
    seq: int = 0
    run_id: str | None = None


class Thinking(Struct, kw_only=True, omit_defaults=True):
    """The `Thinking` schema."""

    text: str


class ToolCall(Struct, kw_only=True, omit_defaults=True):
    """The `ToolCall` schema."""

    call_id: str
    tool: str
    arguments: JsonValue = None


class ToolResult(Struct, kw_only=True, omit_defaults=True):
    """The `ToolResult` schema."""

    duration_ms: int
    result: JsonValue = None
    error: str | None = None


class Typing(Struct, kw_only=True, omit_defaults=True):
    """The `Typing` schema."""

    expires_in_s: int


class TypingBy(Struct, kw_only=True, omit_defaults=True):
    """Who is typing: a user a key names, or a user token's own user."""

    user_id: str


class Usage(Struct, kw_only=True, omit_defaults=True):
    """The `Usage` schema."""

    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0


class WebhookCreated(Struct, kw_only=True, omit_defaults=True):
    """The `WebhookCreated` schema."""

    id: str
    version: int
    position: int
    secret: str | None


class WebhookOut(Struct, kw_only=True, omit_defaults=True):
    """The `WebhookOut` schema."""

    id: str
    url: str
    events: list[str]
    active: bool
    disabled_reason: str | None
    version: int
    created_at: str


class WebhookPage(Struct, kw_only=True, omit_defaults=True):
    """The `WebhookPage` schema."""

    items: list[WebhookOut]
    next: str | None
