"""A method per operation of Chronicle's OpenAPI document, in a sync and an async
flavour over the same core (`chronicle_client.core`). Written by ``generate.py``: do not
edit.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from chronicle_client.core import (
    AsyncTransport,
    Call,
    SyncTransport,
    Tagged,
    _given,
    _segment,
)
from chronicle_client.models import (
    Acknowledge,
    AlertPage,
    AlertRow,
    Announce,
    AppliedOp,
    AuditEntry,
    AuditPage,
    Buffered,
    Cancel,
    CancelTask,
    Changed,
    Claimed,
    ClaimRequest,
    Complete,
    CompleteTask,
    ConversationPage,
    ConversationRow,
    Created,
    CreateDocument,
    CurrentMetrics,
    Dashboard,
    DeleteComponent,
    DeliveryOut,
    DeliveryPage,
    Delta,
    DocumentCreated,
    DocumentPage,
    DocumentRow,
    DocumentState,
    Erase,
    Erased,
    Fail,
    FailTask,
    Heartbeat,
    Join,
    JsonValue,
    KeyPage,
    KeyRotated,
    Liveness,
    LiveStatsOut,
    MessageCreated,
    MessageOut,
    MessagePage,
    Minted,
    MintToken,
    Mute,
    NotificationPage,
    NotificationRow,
    OperationPage,
    PostMessage,
    Presence,
    Readiness,
    RegisterWebhook,
    RenameConversation,
    RenameDocument,
    Revoke,
    Revoked,
    RotateKey,
    RuleBody,
    RulePage,
    RuleRow,
    SearchHitOut,
    SearchPage,
    SendNotification,
    Series,
    StartConversation,
    StartRun,
    StateOut,
    StreamPage,
    SubjectExportOut,
    Submit,
    SubmitOperation,
    Thinking,
    ToolCall,
    ToolResult,
    Typing,
    TypingBy,
    Usage,
    WebhookCreated,
    WebhookOut,
    WebhookPage,
)

OPERATION_IDS = frozenset(
    {
        "acknowledgeAlert",
        "addParticipant",
        "announce",
        "archiveConversation",
        "archiveDocument",
        "cancelRun",
        "cancelTask",
        "claimTask",
        "completeRun",
        "completeTask",
        "completeToolCall",
        "createAlertRule",
        "createDocument",
        "deleteAlertRule",
        "deleteWebhook",
        "disableWebhook",
        "enableWebhook",
        "eraseSubject",
        "exportSubject",
        "failRun",
        "failTask",
        "getAlertRule",
        "getConversation",
        "getCurrentMetrics",
        "getDashboard",
        "getDocument",
        "getLiveness",
        "getMessage",
        "getMetricHistory",
        "getMetrics",
        "getNotification",
        "getPresence",
        "getReadiness",
        "getRun",
        "getStreamState",
        "getTask",
        "getTaskDashboard",
        "getUsage",
        "getWebhook",
        "heartbeatTask",
        "listAlertRules",
        "listAlerts",
        "listAudit",
        "listConversationRuns",
        "listConversations",
        "listDocuments",
        "listKeys",
        "listMessages",
        "listMyNotifications",
        "listNotifications",
        "listOperations",
        "listStreamEvents",
        "listTasks",
        "listWebhookDeliveries",
        "listWebhooks",
        "liveStats",
        "markMyNotificationRead",
        "markNotificationRead",
        "mintUserToken",
        "muteAlertRule",
        "postMessage",
        "recordThought",
        "registerWebhook",
        "removeParticipant",
        "renameConversation",
        "renameDocument",
        "retryTask",
        "retryWebhookDelivery",
        "revokeKey",
        "revokeUserTokens",
        "rotateUserTokenKey",
        "searchMessages",
        "sendNotification",
        "sendTyping",
        "startConversation",
        "startRun",
        "startToolCall",
        "streamDelta",
        "submitOperation",
        "submitTask",
        "updateAlertRule",
    }
)


class Operations(SyncTransport):
    """Every operation, blocking."""

    def acknowledge_alert(
        self,
        alert_id: str | UUID,
        *,
        note: str | None = None,
        idempotency_key: str | None = None,
        request_id: str | None = None,
        traceparent: str | None = None,
    ) -> Changed:
        """Acknowledge a firing alert, as the caller (`409` unless it is firing).

        ``POST /v1/alerts/{alert_id}/acknowledge`` (``acknowledgeAlert``)
        """
        call = Call(
            "POST",
            f"/v1/alerts/{_segment(alert_id)}/acknowledge",
            body=Acknowledge(**_given(note=note)),
            headers={"X-Request-ID": request_id, "traceparent": traceparent},
            idempotency_key=idempotency_key,
            command=True,
        )
        return self._send(call, Changed)

    def add_participant(
        self,
        conversation_id: str | UUID,
        *,
        user_id: str,
        role: str | None = None,
        idempotency_key: str | None = None,
        request_id: str | None = None,
        traceparent: str | None = None,
    ) -> Changed:
        """Add a participant (``ParticipantJoined``; `409` if it takes part already).

        ``POST /v1/conversations/{conversation_id}/participants`` (``addParticipant``)
        """
        call = Call(
            "POST",
            f"/v1/conversations/{_segment(conversation_id)}/participants",
            body=Join(user_id=user_id, **_given(role=role)),
            headers={"X-Request-ID": request_id, "traceparent": traceparent},
            idempotency_key=idempotency_key,
            command=True,
        )
        return self._send(call, Changed)

    def announce(
        self,
        *,
        title: str,
        body: str | None = None,
        priority: Literal["high", "low", "normal", "urgent"] | None = None,
        idempotency_key: str | None = None,
        request_id: str | None = None,
        traceparent: str | None = None,
    ) -> Created:
        """An announcement to every live client of the tenant, users' tokens included
        (``AnnouncementMade``, category ``announcement``).

        ``POST /v1/announcements`` (``announce``)
        """
        call = Call(
            "POST",
            "/v1/announcements",
            body=Announce(title=title, **_given(body=body, priority=priority)),
            headers={"X-Request-ID": request_id, "traceparent": traceparent},
            idempotency_key=idempotency_key,
            command=True,
        )
        return self._send(call, Created)

    def archive_conversation(
        self,
        conversation_id: str | UUID,
        *,
        if_match: int | str | None = None,
        idempotency_key: str | None = None,
        request_id: str | None = None,
        traceparent: str | None = None,
    ) -> Changed:
        """Archive a conversation; later posts are refused with 409.

        ``POST /v1/conversations/{conversation_id}/archive`` (``archiveConversation``)
        """
        call = Call(
            "POST",
            f"/v1/conversations/{_segment(conversation_id)}/archive",
            headers={"X-Request-ID": request_id, "traceparent": traceparent},
            if_match=if_match,
            idempotency_key=idempotency_key,
            command=True,
        )
        return self._send(call, Changed)

    def archive_document(
        self,
        document_id: str | UUID,
        *,
        if_match: int | str | None = None,
        idempotency_key: str | None = None,
        request_id: str | None = None,
        traceparent: str | None = None,
    ) -> Changed:
        """Archive a document; later ops and renames are refused with 409.

        ``POST /v1/documents/{document_id}/archive`` (``archiveDocument``)
        """
        call = Call(
            "POST",
            f"/v1/documents/{_segment(document_id)}/archive",
            headers={"X-Request-ID": request_id, "traceparent": traceparent},
            if_match=if_match,
            idempotency_key=idempotency_key,
            command=True,
        )
        return self._send(call, Changed)

    def cancel_run(
        self,
        run_id: str | UUID,
        *,
        reason: str | None = None,
        idempotency_key: str | None = None,
        request_id: str | None = None,
        traceparent: str | None = None,
    ) -> Changed:
        """The run was cancelled (agent_cancelled).

        ``POST /v1/runs/{run_id}/cancel`` (``cancelRun``)
        """
        call = Call(
            "POST",
            f"/v1/runs/{_segment(run_id)}/cancel",
            body=Cancel(**_given(reason=reason)),
            headers={"X-Request-ID": request_id, "traceparent": traceparent},
            idempotency_key=idempotency_key,
            command=True,
        )
        return self._send(call, Changed)

    def cancel_task(
        self,
        task_id: str | UUID,
        *,
        reason: str | None = None,
        idempotency_key: str | None = None,
        request_id: str | None = None,
        traceparent: str | None = None,
    ) -> Changed:
        """Cancel a pending or running task (its worker learns it at its next heartbeat).

        ``POST /v1/tasks/{task_id}/cancel`` (``cancelTask``)
        """
        call = Call(
            "POST",
            f"/v1/tasks/{_segment(task_id)}/cancel",
            body=CancelTask(**_given(reason=reason)),
            headers={"X-Request-ID": request_id, "traceparent": traceparent},
            idempotency_key=idempotency_key,
            command=True,
        )
        return self._send(call, Changed)

    def claim_task(
        self,
        *,
        worker_id: str,
        types: list[str],
        wait_s: float | None = None,
        idempotency_key: str | None = None,
        request_id: str | None = None,
        traceparent: str | None = None,
    ) -> Claimed | None:
        """Start the best claimable task (higher priority, then older) for this worker; ``204``
        when none turns up within ``wait_s``.

        ``POST /v1/tasks/claim`` (``claimTask``)
        """
        call = Call(
            "POST",
            "/v1/tasks/claim",
            body=ClaimRequest(worker_id=worker_id, types=types, **_given(wait_s=wait_s)),
            headers={"X-Request-ID": request_id, "traceparent": traceparent},
            idempotency_key=idempotency_key,
            command=True,
        )
        return self._send_optional(call, Claimed)

    def complete_run(
        self,
        run_id: str | UUID,
        *,
        content: str | None = None,
        usage: Usage | None = None,
        idempotency_key: str | None = None,
        request_id: str | None = None,
        traceparent: str | None = None,
    ) -> MessageCreated:
        """Complete the run and post its answer to the conversation, atomically
        (agent_completed)

        ``POST /v1/runs/{run_id}/complete`` (``completeRun``)
        """
        call = Call(
            "POST",
            f"/v1/runs/{_segment(run_id)}/complete",
            body=Complete(**_given(content=content, usage=usage)),
            headers={"X-Request-ID": request_id, "traceparent": traceparent},
            idempotency_key=idempotency_key,
            command=True,
        )
        return self._send(call, MessageCreated)

    def complete_task(
        self,
        task_id: str | UUID,
        *,
        result: JsonValue | None = None,
        idempotency_key: str | None = None,
        request_id: str | None = None,
        traceparent: str | None = None,
    ) -> Changed:
        """The running attempt succeeded.

        ``POST /v1/tasks/{task_id}/complete`` (``completeTask``)
        """
        call = Call(
            "POST",
            f"/v1/tasks/{_segment(task_id)}/complete",
            body=CompleteTask(**_given(result=result)),
            headers={"X-Request-ID": request_id, "traceparent": traceparent},
            idempotency_key=idempotency_key,
            command=True,
        )
        return self._send(call, Changed)

    def complete_tool_call(
        self,
        run_id: str | UUID,
        call_id: str,
        *,
        duration_ms: int,
        result: JsonValue | None = None,
        error: str | None = None,
        idempotency_key: str | None = None,
        request_id: str | None = None,
        traceparent: str | None = None,
    ) -> Changed:
        """A started tool call ends, once (tool_completed).

        ``POST /v1/runs/{run_id}/tools/{call_id}/result`` (``completeToolCall``)
        """
        call = Call(
            "POST",
            f"/v1/runs/{_segment(run_id)}/tools/{_segment(call_id)}/result",
            body=ToolResult(duration_ms=duration_ms, **_given(result=result, error=error)),
            headers={"X-Request-ID": request_id, "traceparent": traceparent},
            idempotency_key=idempotency_key,
            command=True,
        )
        return self._send(call, Changed)

    def create_alert_rule(
        self,
        *,
        name: str,
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
        ],
        threshold: float,
        window_s: int,
        op: Literal["!=", "<", "<=", "==", ">", ">="],
        for_s: int | None = None,
        severity: Literal["critical", "info", "warning"] | None = None,
        labels: dict[str, str] | None = None,
        idempotency_key: str | None = None,
        request_id: str | None = None,
        traceparent: str | None = None,
    ) -> Created:
        """Create a rule on one of the tenant's metrics (an unknown metric is a 400).

        ``POST /v1/alert-rules`` (``createAlertRule``)
        """
        call = Call(
            "POST",
            "/v1/alert-rules",
            body=RuleBody(
                name=name,
                metric=metric,
                op=op,
                threshold=threshold,
                window_s=window_s,
                **_given(for_s=for_s, severity=severity, labels=labels),
            ),
            headers={"X-Request-ID": request_id, "traceparent": traceparent},
            idempotency_key=idempotency_key,
            command=True,
        )
        return self._send(call, Created)

    def create_document(
        self,
        *,
        title: str,
        content: str | None = None,
        idempotency_key: str | None = None,
        request_id: str | None = None,
        traceparent: str | None = None,
    ) -> DocumentCreated:
        """Create a shared text document at revision 0.

        ``POST /v1/documents`` (``createDocument``)
        """
        call = Call(
            "POST",
            "/v1/documents",
            body=CreateDocument(title=title, **_given(content=content)),
            headers={"X-Request-ID": request_id, "traceparent": traceparent},
            idempotency_key=idempotency_key,
            command=True,
        )
        return self._send(call, DocumentCreated)

    def delete_alert_rule(
        self,
        rule_id: str | UUID,
        *,
        if_match: int | str | None = None,
        idempotency_key: str | None = None,
        request_id: str | None = None,
        traceparent: str | None = None,
    ) -> Changed:
        """Delete a rule: it opens no alert again and its open alert resolves.

        ``DELETE /v1/alert-rules/{rule_id}`` (``deleteAlertRule``)
        """
        call = Call(
            "DELETE",
            f"/v1/alert-rules/{_segment(rule_id)}",
            headers={"X-Request-ID": request_id, "traceparent": traceparent},
            if_match=if_match,
            idempotency_key=idempotency_key,
            command=True,
        )
        return self._send(call, Changed)

    def delete_webhook(
        self,
        webhook_id: str | UUID,
        *,
        idempotency_key: str | None = None,
        request_id: str | None = None,
        traceparent: str | None = None,
    ) -> Changed:
        """Delete a webhook (``WebhookDeleted``): nothing more is delivered to it, its
        deliveries and secret are dropped, and it is `404` from now on.

        ``DELETE /v1/webhooks/{webhook_id}`` (``deleteWebhook``)
        """
        call = Call(
            "DELETE",
            f"/v1/webhooks/{_segment(webhook_id)}",
            headers={"X-Request-ID": request_id, "traceparent": traceparent},
            idempotency_key=idempotency_key,
            command=True,
        )
        return self._send(call, Changed)

    def disable_webhook(
        self,
        webhook_id: str | UUID,
        *,
        idempotency_key: str | None = None,
        request_id: str | None = None,
        traceparent: str | None = None,
    ) -> Changed:
        """Disable a webhook (``WebhookDisabled``): events are not delivered to it until it is
        enabled; `409` if it is disabled already.

        ``POST /v1/webhooks/{webhook_id}/disable`` (``disableWebhook``)
        """
        call = Call(
            "POST",
            f"/v1/webhooks/{_segment(webhook_id)}/disable",
            headers={"X-Request-ID": request_id, "traceparent": traceparent},
            idempotency_key=idempotency_key,
            command=True,
        )
        return self._send(call, Changed)

    def enable_webhook(
        self,
        webhook_id: str | UUID,
        *,
        idempotency_key: str | None = None,
        request_id: str | None = None,
        traceparent: str | None = None,
    ) -> Changed:
        """Enable a disabled webhook (``WebhookEnabled``), one its tenant disabled or one
        disabled after repeated failure: the deliveries it had waiting go first; `409` if it
        is enabled.

        ``POST /v1/webhooks/{webhook_id}/enable`` (``enableWebhook``)
        """
        call = Call(
            "POST",
            f"/v1/webhooks/{_segment(webhook_id)}/enable",
            headers={"X-Request-ID": request_id, "traceparent": traceparent},
            idempotency_key=idempotency_key,
            command=True,
        )
        return self._send(call, Changed)

    def erase_subject(
        self,
        subject: str,
        *,
        reason: str,
        idempotency_key: str | None = None,
        request_id: str | None = None,
        traceparent: str | None = None,
    ) -> Erased:
        """Erase a data subject: its data keys are destroyed, so every value bound to it reads
        as null everywhere (history, search, live replay, exports), and every API process
        drops its keys within a second

        ``POST /v1/subjects/{subject}/erase`` (``eraseSubject``)
        """
        call = Call(
            "POST",
            f"/v1/subjects/{_segment(subject)}/erase",
            body=Erase(reason=reason),
            headers={"X-Request-ID": request_id, "traceparent": traceparent},
            idempotency_key=idempotency_key,
            command=True,
        )
        return self._send(call, Erased)

    def export_subject(
        self,
        subject: str,
    ) -> SubjectExportOut:
        """Every personal value of the tenant bound to a data subject, with its event.

        ``GET /v1/subjects/{subject}/export`` (``exportSubject``)
        """
        call = Call("GET", f"/v1/subjects/{_segment(subject)}/export")
        return self._send(call, SubjectExportOut)

    def fail_run(
        self,
        run_id: str | UUID,
        *,
        error: str,
        idempotency_key: str | None = None,
        request_id: str | None = None,
        traceparent: str | None = None,
    ) -> Changed:
        """The run failed (agent_failed).

        ``POST /v1/runs/{run_id}/fail`` (``failRun``)
        """
        call = Call(
            "POST",
            f"/v1/runs/{_segment(run_id)}/fail",
            body=Fail(error=error),
            headers={"X-Request-ID": request_id, "traceparent": traceparent},
            idempotency_key=idempotency_key,
            command=True,
        )
        return self._send(call, Changed)

    def fail_task(
        self,
        task_id: str | UUID,
        *,
        error: str,
        retryable: bool | None = None,
        idempotency_key: str | None = None,
        request_id: str | None = None,
        traceparent: str | None = None,
    ) -> Changed:
        """The running attempt failed: retried after a backoff, or dead after the last.

        ``POST /v1/tasks/{task_id}/fail`` (``failTask``)
        """
        call = Call(
            "POST",
            f"/v1/tasks/{_segment(task_id)}/fail",
            body=FailTask(error=error, **_given(retryable=retryable)),
            headers={"X-Request-ID": request_id, "traceparent": traceparent},
            idempotency_key=idempotency_key,
            command=True,
        )
        return self._send(call, Changed)

    def get_alert_rule(
        self,
        rule_id: str | UUID,
        *,
        min_position: int | None = None,
        read_your_writes: bool | None = None,
    ) -> Tagged[RuleRow]:
        """One rule, with its version as ETag.

        ``GET /v1/alert-rules/{rule_id}`` (``getAlertRule``)
        """
        call = Call(
            "GET",
            f"/v1/alert-rules/{_segment(rule_id)}",
            query={"min_position": min_position},
            read_your_writes=read_your_writes,
        )
        return self._send_tagged(call, RuleRow)

    def get_conversation(
        self,
        conversation_id: str | UUID,
        *,
        min_position: int | None = None,
        read_your_writes: bool | None = None,
    ) -> Tagged[ConversationRow]:
        """One conversation, with its version as ETag.

        ``GET /v1/conversations/{conversation_id}`` (``getConversation``)
        """
        call = Call(
            "GET",
            f"/v1/conversations/{_segment(conversation_id)}",
            query={"min_position": min_position},
            read_your_writes=read_your_writes,
        )
        return self._send_tagged(call, ConversationRow)

    def get_current_metrics(
        self,
        *,
        names: str | None = None,
        min_position: int | None = None,
        read_your_writes: bool | None = None,
    ) -> CurrentMetrics:
        """Each metric's sum (or 95th percentile, null without samples; an operator metric's
        worst sample) over the last 24 hours (from the same minute yesterday) and over the
        current minute so far.

        ``GET /v1/metrics`` (``getCurrentMetrics``)
        """
        call = Call(
            "GET",
            "/v1/metrics",
            query={"names": names, "min_position": min_position},
            read_your_writes=read_your_writes,
        )
        return self._send(call, CurrentMetrics)

    def get_dashboard(
        self,
        *,
        min_position: int | None = None,
        read_your_writes: bool | None = None,
    ) -> Dashboard:
        """Today's (UTC) totals of every metric and the last hour's series per minute of each
        (for an admin key of ``_system``: of every tenant, and the operator metrics); the
        task dashboard is at ``tasks``.

        ``GET /v1/dashboard`` (``getDashboard``)
        """
        call = Call(
            "GET",
            "/v1/dashboard",
            query={"min_position": min_position},
            read_your_writes=read_your_writes,
        )
        return self._send(call, Dashboard)

    def get_document(
        self,
        document_id: str | UUID,
        *,
        revision: int | None = None,
    ) -> Tagged[DocumentState]:
        """The document at its head, or as it was at `revision` (from the log, so an op just
        answered is in it), with its version as ETag.

        ``GET /v1/documents/{document_id}`` (``getDocument``)
        """
        call = Call("GET", f"/v1/documents/{_segment(document_id)}", query={"revision": revision})
        return self._send_tagged(call, DocumentState)

    def get_liveness(
        self,
    ) -> Liveness:
        """The process is alive.

        ``GET /healthz`` (``getLiveness``)
        """
        call = Call("GET", "/healthz")
        return self._send(call, Liveness)

    def get_message(
        self,
        conversation_id: str | UUID,
        message_id: str | UUID,
        *,
        min_position: int | None = None,
        read_your_writes: bool | None = None,
    ) -> MessageOut:
        """One message of a conversation (where a posted message's Location points).

        ``GET /v1/conversations/{conversation_id}/messages/{message_id}`` (``getMessage``)
        """
        call = Call(
            "GET",
            f"/v1/conversations/{_segment(conversation_id)}/messages/{_segment(message_id)}",
            query={"min_position": min_position},
            read_your_writes=read_your_writes,
        )
        return self._send(call, MessageOut)

    def get_metric_history(
        self,
        *,
        name: Literal[
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
        ],
        label: str | None = None,
        from_: str | datetime | None = None,
        to: str | datetime | None = None,
        step: Literal["1d", "1h", "1m", "5m"] | None = None,
        min_position: int | None = None,
        read_your_writes: bool | None = None,
    ) -> Series:
        """The metric's sum (or 95th percentile) over each step from ``from`` to ``to`` (at
        most 1440 steps), over all labels unless ``label`` is given; steps without activity
        are 0 (a percentile null; an operator metric's worst sample, null without any).
        Steps of 1 h and 1 d are read from hour buckets (kept longer than minute buckets).

        ``GET /v1/metrics/history`` (``getMetricHistory``)
        """
        call = Call(
            "GET",
            "/v1/metrics/history",
            query={
                "name": name,
                "label": label,
                "from": from_,
                "to": to,
                "step": step,
                "min_position": min_position,
            },
            read_your_writes=read_your_writes,
        )
        return self._send(call, Series)

    def get_metrics(
        self,
    ) -> str:
        """Get

        ``GET /metrics`` (``getMetrics``)
        """
        call = Call("GET", "/metrics")
        return self._send_text(call)

    def get_notification(
        self,
        user_id: str,
        notification_id: str | UUID,
        *,
        min_position: int | None = None,
        read_your_writes: bool | None = None,
    ) -> NotificationRow:
        """One of a user's notifications (where a sent one's Location points).

        ``GET /v1/users/{user_id}/notifications/{notification_id}`` (``getNotification``)
        """
        call = Call(
            "GET",
            f"/v1/users/{_segment(user_id)}/notifications/{_segment(notification_id)}",
            query={"min_position": min_position},
            read_your_writes=read_your_writes,
        )
        return self._send(call, NotificationRow)

    def get_presence(
        self,
        conversation_id: str | UUID,
    ) -> Presence:
        """The users present in the conversation now, across every API process.

        ``GET /v1/conversations/{conversation_id}/presence`` (``getPresence``)
        """
        call = Call("GET", f"/v1/conversations/{_segment(conversation_id)}/presence")
        return self._send(call, Presence)

    def get_readiness(
        self,
    ) -> Readiness:
        """200 ``ready`` when PostgreSQL, NATS and Valkey answer and no projection is stopped
        or has parked events; otherwise 503 ``degraded``

        ``GET /readyz`` (``getReadiness``)
        """
        call = Call("GET", "/readyz")
        return self._send(call, Readiness)

    def get_run(
        self,
        run_id: str | UUID,
        *,
        min_position: int | None = None,
        read_your_writes: bool | None = None,
    ) -> Tagged[dict[str, Any]]:
        """Steps in order with timestamps and durations, tool calls, and totals.

        ``GET /v1/runs/{run_id}`` (``getRun``)
        """
        call = Call(
            "GET",
            f"/v1/runs/{_segment(run_id)}",
            query={"min_position": min_position},
            read_your_writes=read_your_writes,
        )
        return self._send_tagged(call, dict[str, Any])

    def get_stream_state(
        self,
        aggregate_id: str | UUID,
        *,
        version: int | None = None,
        as_of: str | datetime | None = None,
    ) -> StateOut:
        """The aggregate's state as of a version or a time (latest by default; with both, the
        version as it stood then), and the events that led there.

        ``GET /v1/streams/{aggregate_id}/state`` (``getStreamState``)
        """
        call = Call(
            "GET",
            f"/v1/streams/{_segment(aggregate_id)}/state",
            query={"version": version, "as_of": as_of},
        )
        return self._send(call, StateOut)

    def get_task(
        self,
        task_id: str | UUID,
        *,
        min_position: int | None = None,
        read_your_writes: bool | None = None,
    ) -> Tagged[dict[str, Any]]:
        """One task with every attempt (worker, times, outcome).

        ``GET /v1/tasks/{task_id}`` (``getTask``)
        """
        call = Call(
            "GET",
            f"/v1/tasks/{_segment(task_id)}",
            query={"min_position": min_position},
            read_your_writes=read_your_writes,
        )
        return self._send_tagged(call, dict[str, Any])

    def get_task_dashboard(
        self,
        *,
        min_position: int | None = None,
        read_your_writes: bool | None = None,
    ) -> dict[str, Any]:
        """Counts by state, queue depth by type, oldest pending age, run time p50/p95.

        ``GET /v1/dashboard/tasks`` (``getTaskDashboard``)
        """
        call = Call(
            "GET",
            "/v1/dashboard/tasks",
            query={"min_position": min_position},
            read_your_writes=read_your_writes,
        )
        return self._send(call, dict[str, Any])

    def get_usage(
        self,
        *,
        min_position: int | None = None,
        read_your_writes: bool | None = None,
    ) -> dict[str, Any]:
        """Today's (UTC) agent-run usage of the tenant, by key; its budget and what remains,
        and how many of its usage events are parked (not counted).

        ``GET /v1/usage`` (``getUsage``)
        """
        call = Call(
            "GET",
            "/v1/usage",
            query={"min_position": min_position},
            read_your_writes=read_your_writes,
        )
        return self._send(call, dict[str, Any])

    def get_webhook(
        self,
        webhook_id: str | UUID,
    ) -> WebhookOut:
        """One of the tenant's webhooks (never its secret), from its own events.

        ``GET /v1/webhooks/{webhook_id}`` (``getWebhook``)
        """
        call = Call("GET", f"/v1/webhooks/{_segment(webhook_id)}")
        return self._send(call, WebhookOut)

    def heartbeat_task(
        self,
        task_id: str | UUID,
        *,
        progress: float | None = None,
        note: str | None = None,
        idempotency_key: str | None = None,
        request_id: str | None = None,
        traceparent: str | None = None,
    ) -> Changed:
        """Extend the lease; a cancelled task answers 409 (type task-cancelled).

        ``POST /v1/tasks/{task_id}/heartbeat`` (``heartbeatTask``)
        """
        call = Call(
            "POST",
            f"/v1/tasks/{_segment(task_id)}/heartbeat",
            body=Heartbeat(**_given(progress=progress, note=note)),
            headers={"X-Request-ID": request_id, "traceparent": traceparent},
            idempotency_key=idempotency_key,
            command=True,
        )
        return self._send(call, Changed)

    def list_alert_rules(
        self,
        *,
        after: str | None = None,
        limit: int | None = None,
        min_position: int | None = None,
        read_your_writes: bool | None = None,
    ) -> RulePage:
        """The tenant's rules (not deleted), newest first.

        ``GET /v1/alert-rules`` (``listAlertRules``)
        """
        call = Call(
            "GET",
            "/v1/alert-rules",
            query={"after": after, "limit": limit, "min_position": min_position},
            read_your_writes=read_your_writes,
        )
        return self._send(call, RulePage)

    def iter_list_alert_rules(
        self,
        *,
        limit: int | None = None,
        min_position: int | None = None,
        read_your_writes: bool | None = None,
        after: str | None = None,
    ) -> Iterator[RuleRow]:
        """Every item of `list_alert_rules`, page after page (from ``after``)."""
        while True:
            call = Call(
                "GET",
                "/v1/alert-rules",
                query={"after": after, "limit": limit, "min_position": min_position},
                read_your_writes=read_your_writes,
            )
            page = self._send(call, RulePage)
            yield from page.items
            after = page.next
            if after is None:
                return

    def list_alerts(
        self,
        *,
        state: Literal["acknowledged", "firing", "pending", "resolved"] | None = None,
        after: str | None = None,
        limit: int | None = None,
        min_position: int | None = None,
        read_your_writes: bool | None = None,
    ) -> AlertPage:
        """The tenant's alerts, newest first.

        ``GET /v1/alerts`` (``listAlerts``)
        """
        call = Call(
            "GET",
            "/v1/alerts",
            query={"state": state, "after": after, "limit": limit, "min_position": min_position},
            read_your_writes=read_your_writes,
        )
        return self._send(call, AlertPage)

    def iter_list_alerts(
        self,
        *,
        state: Literal["acknowledged", "firing", "pending", "resolved"] | None = None,
        limit: int | None = None,
        min_position: int | None = None,
        read_your_writes: bool | None = None,
        after: str | None = None,
    ) -> Iterator[AlertRow]:
        """Every item of `list_alerts`, page after page (from ``after``)."""
        while True:
            call = Call(
                "GET",
                "/v1/alerts",
                query={
                    "state": state,
                    "after": after,
                    "limit": limit,
                    "min_position": min_position,
                },
                read_your_writes=read_your_writes,
            )
            page = self._send(call, AlertPage)
            yield from page.items
            after = page.next
            if after is None:
                return

    def list_audit(
        self,
        *,
        actor: str | None = None,
        action: str | None = None,
        target: str | None = None,
        since: str | datetime | None = None,
        until: str | datetime | None = None,
        after: str | None = None,
        limit: int | None = None,
        min_position: int | None = None,
        read_your_writes: bool | None = None,
    ) -> AuditPage:
        """Every command of the tenant, accepted or denied, oldest first: actor (``key:…``),
        key id, action (the command), target, outcome, status, reason, request and trace
        ids.

        ``GET /v1/audit`` (``listAudit``)
        """
        call = Call(
            "GET",
            "/v1/audit",
            query={
                "actor": actor,
                "action": action,
                "target": target,
                "since": since,
                "until": until,
                "after": after,
                "limit": limit,
                "min_position": min_position,
            },
            read_your_writes=read_your_writes,
        )
        return self._send(call, AuditPage)

    def iter_list_audit(
        self,
        *,
        actor: str | None = None,
        action: str | None = None,
        target: str | None = None,
        since: str | datetime | None = None,
        until: str | datetime | None = None,
        limit: int | None = None,
        min_position: int | None = None,
        read_your_writes: bool | None = None,
        after: str | None = None,
    ) -> Iterator[AuditEntry]:
        """Every item of `list_audit`, page after page (from ``after``)."""
        while True:
            call = Call(
                "GET",
                "/v1/audit",
                query={
                    "actor": actor,
                    "action": action,
                    "target": target,
                    "since": since,
                    "until": until,
                    "after": after,
                    "limit": limit,
                    "min_position": min_position,
                },
                read_your_writes=read_your_writes,
            )
            page = self._send(call, AuditPage)
            yield from page.items
            after = page.next
            if after is None:
                return

    def list_conversation_runs(
        self,
        conversation_id: str | UUID,
        *,
        after: str | None = None,
        limit: int | None = None,
        min_position: int | None = None,
        read_your_writes: bool | None = None,
    ) -> dict[str, Any]:
        """The conversation's runs, oldest first.

        ``GET /v1/conversations/{conversation_id}/runs`` (``listConversationRuns``)
        """
        call = Call(
            "GET",
            f"/v1/conversations/{_segment(conversation_id)}/runs",
            query={"after": after, "limit": limit, "min_position": min_position},
            read_your_writes=read_your_writes,
        )
        return self._send(call, dict[str, Any])

    def iter_list_conversation_runs(
        self,
        conversation_id: str | UUID,
        *,
        limit: int | None = None,
        min_position: int | None = None,
        read_your_writes: bool | None = None,
        after: str | None = None,
    ) -> Iterator[Any]:
        """Every item of `list_conversation_runs`, page after page (from ``after``)."""
        while True:
            call = Call(
                "GET",
                f"/v1/conversations/{_segment(conversation_id)}/runs",
                query={"after": after, "limit": limit, "min_position": min_position},
                read_your_writes=read_your_writes,
            )
            page = self._send(call, dict[str, Any])
            yield from page["items"]
            after = page["next"]
            if after is None:
                return

    def list_conversations(
        self,
        *,
        after: str | None = None,
        limit: int | None = None,
        min_position: int | None = None,
        read_your_writes: bool | None = None,
    ) -> ConversationPage:
        """The tenant's conversations, newest first.

        ``GET /v1/conversations`` (``listConversations``)
        """
        call = Call(
            "GET",
            "/v1/conversations",
            query={"after": after, "limit": limit, "min_position": min_position},
            read_your_writes=read_your_writes,
        )
        return self._send(call, ConversationPage)

    def iter_list_conversations(
        self,
        *,
        limit: int | None = None,
        min_position: int | None = None,
        read_your_writes: bool | None = None,
        after: str | None = None,
    ) -> Iterator[ConversationRow]:
        """Every item of `list_conversations`, page after page (from ``after``)."""
        while True:
            call = Call(
                "GET",
                "/v1/conversations",
                query={"after": after, "limit": limit, "min_position": min_position},
                read_your_writes=read_your_writes,
            )
            page = self._send(call, ConversationPage)
            yield from page.items
            after = page.next
            if after is None:
                return

    def list_documents(
        self,
        *,
        after: str | None = None,
        limit: int | None = None,
        min_position: int | None = None,
        read_your_writes: bool | None = None,
    ) -> DocumentPage:
        """The tenant's documents, newest first (each with its length, not its content).

        ``GET /v1/documents`` (``listDocuments``)
        """
        call = Call(
            "GET",
            "/v1/documents",
            query={"after": after, "limit": limit, "min_position": min_position},
            read_your_writes=read_your_writes,
        )
        return self._send(call, DocumentPage)

    def iter_list_documents(
        self,
        *,
        limit: int | None = None,
        min_position: int | None = None,
        read_your_writes: bool | None = None,
        after: str | None = None,
    ) -> Iterator[DocumentRow]:
        """Every item of `list_documents`, page after page (from ``after``)."""
        while True:
            call = Call(
                "GET",
                "/v1/documents",
                query={"after": after, "limit": limit, "min_position": min_position},
                read_your_writes=read_your_writes,
            )
            page = self._send(call, DocumentPage)
            yield from page.items
            after = page.next
            if after is None:
                return

    def list_keys(
        self,
    ) -> KeyPage:
        """The tenant's keys (never their secrets), revoked ones included.

        ``GET /v1/keys`` (``listKeys``)
        """
        call = Call("GET", "/v1/keys")
        return self._send(call, KeyPage)

    def list_messages(
        self,
        conversation_id: str | UUID,
        *,
        after: str | None = None,
        limit: int | None = None,
        min_position: int | None = None,
        read_your_writes: bool | None = None,
    ) -> MessagePage:
        """The conversation's messages, oldest first.

        ``GET /v1/conversations/{conversation_id}/messages`` (``listMessages``)
        """
        call = Call(
            "GET",
            f"/v1/conversations/{_segment(conversation_id)}/messages",
            query={"after": after, "limit": limit, "min_position": min_position},
            read_your_writes=read_your_writes,
        )
        return self._send(call, MessagePage)

    def iter_list_messages(
        self,
        conversation_id: str | UUID,
        *,
        limit: int | None = None,
        min_position: int | None = None,
        read_your_writes: bool | None = None,
        after: str | None = None,
    ) -> Iterator[MessageOut]:
        """Every item of `list_messages`, page after page (from ``after``)."""
        while True:
            call = Call(
                "GET",
                f"/v1/conversations/{_segment(conversation_id)}/messages",
                query={"after": after, "limit": limit, "min_position": min_position},
                read_your_writes=read_your_writes,
            )
            page = self._send(call, MessagePage)
            yield from page.items
            after = page.next
            if after is None:
                return

    def list_my_notifications(
        self,
        *,
        unread: bool | None = None,
        after: str | None = None,
        limit: int | None = None,
        min_position: int | None = None,
        read_your_writes: bool | None = None,
    ) -> NotificationPage:
        """The token's user's notifications, newest first, and how many are unread (for a key,
        which has no user of its own, none).

        ``GET /v1/me/notifications`` (``listMyNotifications``)
        """
        call = Call(
            "GET",
            "/v1/me/notifications",
            query={"unread": unread, "after": after, "limit": limit, "min_position": min_position},
            read_your_writes=read_your_writes,
        )
        return self._send(call, NotificationPage)

    def iter_list_my_notifications(
        self,
        *,
        unread: bool | None = None,
        limit: int | None = None,
        min_position: int | None = None,
        read_your_writes: bool | None = None,
        after: str | None = None,
    ) -> Iterator[NotificationRow]:
        """Every item of `list_my_notifications`, page after page (from ``after``)."""
        while True:
            call = Call(
                "GET",
                "/v1/me/notifications",
                query={
                    "unread": unread,
                    "after": after,
                    "limit": limit,
                    "min_position": min_position,
                },
                read_your_writes=read_your_writes,
            )
            page = self._send(call, NotificationPage)
            yield from page.items
            after = page.next
            if after is None:
                return

    def list_notifications(
        self,
        user_id: str,
        *,
        unread: bool | None = None,
        after: str | None = None,
        limit: int | None = None,
        min_position: int | None = None,
        read_your_writes: bool | None = None,
    ) -> NotificationPage:
        """A user's notifications, newest first, and how many are unread.

        ``GET /v1/users/{user_id}/notifications`` (``listNotifications``)
        """
        call = Call(
            "GET",
            f"/v1/users/{_segment(user_id)}/notifications",
            query={"unread": unread, "after": after, "limit": limit, "min_position": min_position},
            read_your_writes=read_your_writes,
        )
        return self._send(call, NotificationPage)

    def iter_list_notifications(
        self,
        user_id: str,
        *,
        unread: bool | None = None,
        limit: int | None = None,
        min_position: int | None = None,
        read_your_writes: bool | None = None,
        after: str | None = None,
    ) -> Iterator[NotificationRow]:
        """Every item of `list_notifications`, page after page (from ``after``)."""
        while True:
            call = Call(
                "GET",
                f"/v1/users/{_segment(user_id)}/notifications",
                query={
                    "unread": unread,
                    "after": after,
                    "limit": limit,
                    "min_position": min_position,
                },
                read_your_writes=read_your_writes,
            )
            page = self._send(call, NotificationPage)
            yield from page.items
            after = page.next
            if after is None:
                return

    def list_operations(
        self,
        document_id: str | UUID,
        *,
        from_revision: int | None = None,
        limit: int | None = None,
    ) -> OperationPage:
        """The document's ops after `from_revision`, oldest first, as applied; `next` is the
        `from_revision` of the next page.

        ``GET /v1/documents/{document_id}/operations`` (``listOperations``)
        """
        call = Call(
            "GET",
            f"/v1/documents/{_segment(document_id)}/operations",
            query={"from_revision": from_revision, "limit": limit},
        )
        return self._send(call, OperationPage)

    def list_stream_events(
        self,
        aggregate_id: str | UUID,
        *,
        from_version: int | None = None,
        limit: int | None = None,
    ) -> StreamPage:
        """Stored events of one aggregate, oldest first; ``next`` is the next from_version.

        ``GET /v1/streams/{aggregate_id}/events`` (``listStreamEvents``)
        """
        call = Call(
            "GET",
            f"/v1/streams/{_segment(aggregate_id)}/events",
            query={"from_version": from_version, "limit": limit},
        )
        return self._send(call, StreamPage)

    def list_tasks(
        self,
        *,
        type: str | None = None,
        state: Literal["cancelled", "dead", "failed", "pending", "running", "succeeded"]
        | None = None,
        after: str | None = None,
        limit: int | None = None,
        min_position: int | None = None,
        read_your_writes: bool | None = None,
    ) -> dict[str, Any]:
        """The tenant's tasks, newest first, optionally of one state and type.

        ``GET /v1/tasks`` (``listTasks``)
        """
        call = Call(
            "GET",
            "/v1/tasks",
            query={
                "type": type,
                "state": state,
                "after": after,
                "limit": limit,
                "min_position": min_position,
            },
            read_your_writes=read_your_writes,
        )
        return self._send(call, dict[str, Any])

    def iter_list_tasks(
        self,
        *,
        type: str | None = None,
        state: Literal["cancelled", "dead", "failed", "pending", "running", "succeeded"]
        | None = None,
        limit: int | None = None,
        min_position: int | None = None,
        read_your_writes: bool | None = None,
        after: str | None = None,
    ) -> Iterator[Any]:
        """Every item of `list_tasks`, page after page (from ``after``)."""
        while True:
            call = Call(
                "GET",
                "/v1/tasks",
                query={
                    "type": type,
                    "state": state,
                    "after": after,
                    "limit": limit,
                    "min_position": min_position,
                },
                read_your_writes=read_your_writes,
            )
            page = self._send(call, dict[str, Any])
            yield from page["items"]
            after = page["next"]
            if after is None:
                return

    def list_webhook_deliveries(
        self,
        webhook_id: str | UUID,
        *,
        status: Literal["dead", "delivered", "pending", "retrying"] | None = None,
        after: str | None = None,
        limit: int | None = None,
        min_position: int | None = None,
        read_your_writes: bool | None = None,
    ) -> DeliveryPage:
        """A webhook's deliveries in log order: status, attempts, last error, response code.

        ``GET /v1/webhooks/{webhook_id}/deliveries`` (``listWebhookDeliveries``)
        """
        call = Call(
            "GET",
            f"/v1/webhooks/{_segment(webhook_id)}/deliveries",
            query={"status": status, "after": after, "limit": limit, "min_position": min_position},
            read_your_writes=read_your_writes,
        )
        return self._send(call, DeliveryPage)

    def iter_list_webhook_deliveries(
        self,
        webhook_id: str | UUID,
        *,
        status: Literal["dead", "delivered", "pending", "retrying"] | None = None,
        limit: int | None = None,
        min_position: int | None = None,
        read_your_writes: bool | None = None,
        after: str | None = None,
    ) -> Iterator[DeliveryOut]:
        """Every item of `list_webhook_deliveries`, page after page (from ``after``)."""
        while True:
            call = Call(
                "GET",
                f"/v1/webhooks/{_segment(webhook_id)}/deliveries",
                query={
                    "status": status,
                    "after": after,
                    "limit": limit,
                    "min_position": min_position,
                },
                read_your_writes=read_your_writes,
            )
            page = self._send(call, DeliveryPage)
            yield from page.items
            after = page.next
            if after is None:
                return

    def list_webhooks(
        self,
        *,
        after: str | None = None,
        limit: int | None = None,
        min_position: int | None = None,
        read_your_writes: bool | None = None,
    ) -> WebhookPage:
        """The tenant's webhooks, oldest first (as the dispatcher knows them).

        ``GET /v1/webhooks`` (``listWebhooks``)
        """
        call = Call(
            "GET",
            "/v1/webhooks",
            query={"after": after, "limit": limit, "min_position": min_position},
            read_your_writes=read_your_writes,
        )
        return self._send(call, WebhookPage)

    def iter_list_webhooks(
        self,
        *,
        limit: int | None = None,
        min_position: int | None = None,
        read_your_writes: bool | None = None,
        after: str | None = None,
    ) -> Iterator[WebhookOut]:
        """Every item of `list_webhooks`, page after page (from ``after``)."""
        while True:
            call = Call(
                "GET",
                "/v1/webhooks",
                query={"after": after, "limit": limit, "min_position": min_position},
                read_your_writes=read_your_writes,
            )
            page = self._send(call, WebhookPage)
            yield from page.items
            after = page.next
            if after is None:
                return

    def live_stats(
        self,
    ) -> LiveStatsOut:
        """The tenant's live connections now, across every API process (by transport and by
        user), and the events delivered and resyncs (slow clients dropped) so far.

        ``GET /v1/live/stats`` (``liveStats``)
        """
        call = Call("GET", "/v1/live/stats")
        return self._send(call, LiveStatsOut)

    def mark_my_notification_read(
        self,
        notification_id: str | UUID,
        *,
        idempotency_key: str | None = None,
        request_id: str | None = None,
        traceparent: str | None = None,
    ) -> Changed:
        """Mark one of the token's user's unread notifications read.

        ``POST /v1/me/notifications/{notification_id}/read`` (``markMyNotificationRead``)
        """
        call = Call(
            "POST",
            f"/v1/me/notifications/{_segment(notification_id)}/read",
            headers={"X-Request-ID": request_id, "traceparent": traceparent},
            idempotency_key=idempotency_key,
            command=True,
        )
        return self._send(call, Changed)

    def mark_notification_read(
        self,
        user_id: str,
        notification_id: str | UUID,
        *,
        idempotency_key: str | None = None,
        request_id: str | None = None,
        traceparent: str | None = None,
    ) -> Changed:
        """Mark one of a user's unread notifications read (`409` if it is not one).

        ``POST /v1/users/{user_id}/notifications/{notification_id}/read``
        (``markNotificationRead``)
        """
        call = Call(
            "POST",
            f"/v1/users/{_segment(user_id)}/notifications/{_segment(notification_id)}/read",
            headers={"X-Request-ID": request_id, "traceparent": traceparent},
            idempotency_key=idempotency_key,
            command=True,
        )
        return self._send(call, Changed)

    def mint_user_token(
        self,
        *,
        user_id: str,
        scopes: list[Literal["documents:write", "live:read", "messages:write", "presence:write"]],
        conversations: list[str] | None = None,
        documents: list[str] | None = None,
        name: str | None = None,
        ttl_s: int | None = None,
        idempotency_key: str | None = None,
        request_id: str | None = None,
        traceparent: str | None = None,
    ) -> Minted:
        """A signed token for one user of the tenant (a JWT, at most a day): the user's browser
        follows `/v1/live` with it, and sees only what it names.

        ``POST /v1/tokens`` (``mintUserToken``)
        """
        call = Call(
            "POST",
            "/v1/tokens",
            body=MintToken(
                user_id=user_id,
                scopes=scopes,
                **_given(conversations=conversations, documents=documents, name=name, ttl_s=ttl_s),
            ),
            headers={"X-Request-ID": request_id, "traceparent": traceparent},
            idempotency_key=idempotency_key,
            command=True,
        )
        return self._send(call, Minted)

    def mute_alert_rule(
        self,
        rule_id: str | UUID,
        *,
        until: str,
        if_match: int | str | None = None,
        idempotency_key: str | None = None,
        request_id: str | None = None,
        traceparent: str | None = None,
    ) -> Changed:
        """Open no alert of the rule before `until` (an open one carries on).

        ``POST /v1/alert-rules/{rule_id}/mute`` (``muteAlertRule``)
        """
        call = Call(
            "POST",
            f"/v1/alert-rules/{_segment(rule_id)}/mute",
            body=Mute(until=until),
            headers={"X-Request-ID": request_id, "traceparent": traceparent},
            if_match=if_match,
            idempotency_key=idempotency_key,
            command=True,
        )
        return self._send(call, Changed)

    def post_message(
        self,
        conversation_id: str | UUID,
        *,
        role: Literal["assistant", "system", "tool", "user"],
        content: str,
        author: str | None = None,
        tokens: int | None = None,
        content_type: str | None = None,
        if_match: int | str | None = None,
        idempotency_key: str | None = None,
        request_id: str | None = None,
        traceparent: str | None = None,
    ) -> MessageCreated:
        """Post a message; without If-Match it retries by itself on a concurrent write. With a
        user token: into a conversation the token names, as its user.

        ``POST /v1/conversations/{conversation_id}/messages`` (``postMessage``)
        """
        call = Call(
            "POST",
            f"/v1/conversations/{_segment(conversation_id)}/messages",
            body=PostMessage(
                role=role,
                content=content,
                **_given(author=author, tokens=tokens, content_type=content_type),
            ),
            headers={"X-Request-ID": request_id, "traceparent": traceparent},
            if_match=if_match,
            idempotency_key=idempotency_key,
            command=True,
        )
        return self._send(call, MessageCreated)

    def record_thought(
        self,
        run_id: str | UUID,
        *,
        text: str,
        idempotency_key: str | None = None,
        request_id: str | None = None,
        traceparent: str | None = None,
    ) -> Changed:
        """Record a thought (agent_thinking).

        ``POST /v1/runs/{run_id}/thinking`` (``recordThought``)
        """
        call = Call(
            "POST",
            f"/v1/runs/{_segment(run_id)}/thinking",
            body=Thinking(text=text),
            headers={"X-Request-ID": request_id, "traceparent": traceparent},
            idempotency_key=idempotency_key,
            command=True,
        )
        return self._send(call, Changed)

    def register_webhook(
        self,
        *,
        url: str,
        events: list[str],
        secret: str | None = None,
        idempotency_key: str | None = None,
        request_id: str | None = None,
        traceparent: str | None = None,
    ) -> WebhookCreated:
        """Register a webhook for the event types or patterns (``Task*``, ``*``) it lists.
        Without a ``secret`` Chronicle makes one (``whsec_…``) and answers it this once.

        ``POST /v1/webhooks`` (``registerWebhook``)
        """
        call = Call(
            "POST",
            "/v1/webhooks",
            body=RegisterWebhook(url=url, events=events, **_given(secret=secret)),
            headers={"X-Request-ID": request_id, "traceparent": traceparent},
            idempotency_key=idempotency_key,
            command=True,
        )
        return self._send(call, WebhookCreated)

    def remove_participant(
        self,
        conversation_id: str | UUID,
        user_id: str,
        *,
        idempotency_key: str | None = None,
        request_id: str | None = None,
        traceparent: str | None = None,
    ) -> Changed:
        """Remove a participant (``ParticipantLeft``; `409` if it takes no part).

        ``DELETE /v1/conversations/{conversation_id}/participants/{user_id}``
        (``removeParticipant``)
        """
        call = Call(
            "DELETE",
            f"/v1/conversations/{_segment(conversation_id)}/participants/{_segment(user_id)}",
            headers={"X-Request-ID": request_id, "traceparent": traceparent},
            idempotency_key=idempotency_key,
            command=True,
        )
        return self._send(call, Changed)

    def rename_conversation(
        self,
        conversation_id: str | UUID,
        *,
        title: str,
        if_match: int | str | None = None,
        idempotency_key: str | None = None,
        request_id: str | None = None,
        traceparent: str | None = None,
    ) -> Changed:
        """Rename a conversation.

        ``POST /v1/conversations/{conversation_id}/rename`` (``renameConversation``)
        """
        call = Call(
            "POST",
            f"/v1/conversations/{_segment(conversation_id)}/rename",
            body=RenameConversation(title=title),
            headers={"X-Request-ID": request_id, "traceparent": traceparent},
            if_match=if_match,
            idempotency_key=idempotency_key,
            command=True,
        )
        return self._send(call, Changed)

    def rename_document(
        self,
        document_id: str | UUID,
        *,
        title: str,
        if_match: int | str | None = None,
        idempotency_key: str | None = None,
        request_id: str | None = None,
        traceparent: str | None = None,
    ) -> Changed:
        """Rename a document.

        ``POST /v1/documents/{document_id}/rename`` (``renameDocument``)
        """
        call = Call(
            "POST",
            f"/v1/documents/{_segment(document_id)}/rename",
            body=RenameDocument(title=title),
            headers={"X-Request-ID": request_id, "traceparent": traceparent},
            if_match=if_match,
            idempotency_key=idempotency_key,
            command=True,
        )
        return self._send(call, Changed)

    def retry_task(
        self,
        task_id: str | UUID,
        *,
        idempotency_key: str | None = None,
        request_id: str | None = None,
        traceparent: str | None = None,
    ) -> Changed:
        """Give a dead letter one more attempt, claimable now (`TaskRequeued`); `409` for a
        task that is not dead.

        ``POST /v1/tasks/{task_id}/retry`` (``retryTask``)
        """
        call = Call(
            "POST",
            f"/v1/tasks/{_segment(task_id)}/retry",
            headers={"X-Request-ID": request_id, "traceparent": traceparent},
            idempotency_key=idempotency_key,
            command=True,
        )
        return self._send(call, Changed)

    def retry_webhook_delivery(
        self,
        webhook_id: str | UUID,
        delivery_id: str | UUID,
        *,
        idempotency_key: str | None = None,
        request_id: str | None = None,
        traceparent: str | None = None,
    ) -> Changed:
        """Deliver one delivery again (``WebhookDeliveryRetried``), from its first attempt;
        accepted: the dispatcher puts it back in line at the answer's ``position``.

        ``POST /v1/webhooks/{webhook_id}/deliveries/{delivery_id}/retry``
        (``retryWebhookDelivery``)
        """
        call = Call(
            "POST",
            f"/v1/webhooks/{_segment(webhook_id)}/deliveries/{_segment(delivery_id)}/retry",
            headers={"X-Request-ID": request_id, "traceparent": traceparent},
            idempotency_key=idempotency_key,
            command=True,
        )
        return self._send(call, Changed)

    def revoke_key(
        self,
        key_id: str | UUID,
        *,
        reason: str | None = None,
        idempotency_key: str | None = None,
        request_id: str | None = None,
        traceparent: str | None = None,
    ) -> Changed:
        """Revoke one of the tenant's keys; every API process refuses it within a second.

        ``POST /v1/keys/{key_id}/revoke`` (``revokeKey``)
        """
        call = Call(
            "POST",
            f"/v1/keys/{_segment(key_id)}/revoke",
            body=Revoke(**_given(reason=reason)),
            headers={"X-Request-ID": request_id, "traceparent": traceparent},
            idempotency_key=idempotency_key,
            command=True,
        )
        return self._send(call, Changed)

    def revoke_user_tokens(
        self,
        user_id: str,
        *,
        idempotency_key: str | None = None,
        request_id: str | None = None,
        traceparent: str | None = None,
    ) -> Revoked:
        """Refuse every token of the user issued until now, on every API process within a
        second.

        ``POST /v1/users/{user_id}/revoke-tokens`` (``revokeUserTokens``)
        """
        call = Call(
            "POST",
            f"/v1/users/{_segment(user_id)}/revoke-tokens",
            headers={"X-Request-ID": request_id, "traceparent": traceparent},
            idempotency_key=idempotency_key,
            command=True,
        )
        return self._send(call, Revoked)

    def rotate_user_token_key(
        self,
        *,
        retire_previous: Literal["at_expiry", "now"] | None = None,
        idempotency_key: str | None = None,
        request_id: str | None = None,
        traceparent: str | None = None,
    ) -> KeyRotated:
        """Sign the tenant's user tokens with a new key from now on

        ``POST /v1/tokens/rotate-key`` (``rotateUserTokenKey``)
        """
        call = Call(
            "POST",
            "/v1/tokens/rotate-key",
            body=RotateKey(**_given(retire_previous=retire_previous)),
            headers={"X-Request-ID": request_id, "traceparent": traceparent},
            idempotency_key=idempotency_key,
            command=True,
        )
        return self._send(call, KeyRotated)

    def search_messages(
        self,
        *,
        q: str,
        after: str | None = None,
        limit: int | None = None,
        min_position: int | None = None,
        read_your_writes: bool | None = None,
    ) -> SearchPage:
        """Messages matching ``q`` (words, "phrases", -exclusions, or), best first.

        ``GET /v1/search/messages`` (``searchMessages``)
        """
        call = Call(
            "GET",
            "/v1/search/messages",
            query={"q": q, "after": after, "limit": limit, "min_position": min_position},
            read_your_writes=read_your_writes,
        )
        return self._send(call, SearchPage)

    def iter_search_messages(
        self,
        *,
        q: str,
        limit: int | None = None,
        min_position: int | None = None,
        read_your_writes: bool | None = None,
        after: str | None = None,
    ) -> Iterator[SearchHitOut]:
        """Every item of `search_messages`, page after page (from ``after``)."""
        while True:
            call = Call(
                "GET",
                "/v1/search/messages",
                query={"q": q, "after": after, "limit": limit, "min_position": min_position},
                read_your_writes=read_your_writes,
            )
            page = self._send(call, SearchPage)
            yield from page.items
            after = page.next
            if after is None:
                return

    def send_notification(
        self,
        user_id: str,
        *,
        kind: str,
        title: str,
        body: str | None = None,
        data: dict[str, JsonValue] | None = None,
        priority: Literal["high", "low", "normal", "urgent"] | None = None,
        idempotency_key: str | None = None,
        request_id: str | None = None,
        traceparent: str | None = None,
    ) -> Created:
        """Send a notification to one user: delivered live to the user's tokens, kept in the
        user's list until read.

        ``POST /v1/users/{user_id}/notifications`` (``sendNotification``)
        """
        call = Call(
            "POST",
            f"/v1/users/{_segment(user_id)}/notifications",
            body=SendNotification(
                kind=kind, title=title, **_given(body=body, data=data, priority=priority)
            ),
            headers={"X-Request-ID": request_id, "traceparent": traceparent},
            idempotency_key=idempotency_key,
            command=True,
        )
        return self._send(call, Created)

    def send_typing(
        self,
        conversation_id: str | UUID,
        *,
        user_id: str,
    ) -> Typing:
        """Tell the conversation's followers that a user is typing (for five seconds, unless
        sent again): the user a key names, or a user token's own user.

        ``POST /v1/conversations/{conversation_id}/typing`` (``sendTyping``)
        """
        call = Call(
            "POST",
            f"/v1/conversations/{_segment(conversation_id)}/typing",
            body=TypingBy(user_id=user_id),
        )
        return self._send(call, Typing)

    def start_conversation(
        self,
        *,
        title: str,
        participants: list[str] | None = None,
        idempotency_key: str | None = None,
        request_id: str | None = None,
        traceparent: str | None = None,
    ) -> Created:
        """Start a conversation.

        ``POST /v1/conversations`` (``startConversation``)
        """
        call = Call(
            "POST",
            "/v1/conversations",
            body=StartConversation(title=title, **_given(participants=participants)),
            headers={"X-Request-ID": request_id, "traceparent": traceparent},
            idempotency_key=idempotency_key,
            command=True,
        )
        return self._send(call, Created)

    def start_run(
        self,
        *,
        conversation_id: str,
        agent: str,
        model: str,
        input_message_id: str | None = None,
        document_id: str | None = None,
        idempotency_key: str | None = None,
        request_id: str | None = None,
        traceparent: str | None = None,
    ) -> Created:
        """Start an agent run in a conversation (agent_started), editing a shared document if
        it names one; ``429 budget-exceeded`` once the tenant has used its daily budget.

        ``POST /v1/runs`` (``startRun``)
        """
        call = Call(
            "POST",
            "/v1/runs",
            body=StartRun(
                conversation_id=conversation_id,
                agent=agent,
                model=model,
                **_given(input_message_id=input_message_id, document_id=document_id),
            ),
            headers={"X-Request-ID": request_id, "traceparent": traceparent},
            idempotency_key=idempotency_key,
            command=True,
        )
        return self._send(call, Created)

    def start_tool_call(
        self,
        run_id: str | UUID,
        *,
        call_id: str,
        tool: str,
        arguments: JsonValue | None = None,
        idempotency_key: str | None = None,
        request_id: str | None = None,
        traceparent: str | None = None,
    ) -> Changed:
        """A tool call starts (tool_executing).

        ``POST /v1/runs/{run_id}/tools`` (``startToolCall``)
        """
        call = Call(
            "POST",
            f"/v1/runs/{_segment(run_id)}/tools",
            body=ToolCall(call_id=call_id, tool=tool, **_given(arguments=arguments)),
            headers={"X-Request-ID": request_id, "traceparent": traceparent},
            idempotency_key=idempotency_key,
            command=True,
        )
        return self._send(call, Changed)

    def stream_delta(
        self,
        run_id: str | UUID,
        *,
        text: str,
    ) -> Buffered:
        """A token delta: published live, never stored; `complete` stores their concatenation.

        ``POST /v1/runs/{run_id}/deltas`` (``streamDelta``)
        """
        call = Call("POST", f"/v1/runs/{_segment(run_id)}/deltas", body=Delta(text=text))
        return self._send(call, Buffered)

    def submit_operation(
        self,
        document_id: str | UUID,
        *,
        base_revision: int,
        op: list[int | str | DeleteComponent],
        author: str | None = None,
        source: str | None = None,
        seq: int | None = None,
        run_id: str | None = None,
        idempotency_key: str | None = None,
        request_id: str | None = None,
        traceparent: str | None = None,
    ) -> AppliedOp:
        """Apply an op made on `base_revision`: transformed against every op committed since,
        appended, and answered as applied (`409` for a base ahead of the head or an archived
        document)

        ``POST /v1/documents/{document_id}/operations`` (``submitOperation``)
        """
        call = Call(
            "POST",
            f"/v1/documents/{_segment(document_id)}/operations",
            body=SubmitOperation(
                base_revision=base_revision,
                op=op,
                **_given(author=author, source=source, seq=seq, run_id=run_id),
            ),
            headers={"X-Request-ID": request_id, "traceparent": traceparent},
            idempotency_key=idempotency_key,
            command=True,
        )
        return self._send(call, AppliedOp)

    def submit_task(
        self,
        *,
        type: str,
        payload: JsonValue | None = None,
        priority: int | None = None,
        max_attempts: int | None = None,
        timeout_s: float | None = None,
        run_at: str | None = None,
        backoff_s: float | None = None,
        subject: str | None = None,
        idempotency_key: str | None = None,
        request_id: str | None = None,
        traceparent: str | None = None,
    ) -> Created:
        """Submit a task; it may be claimed from ``run_at`` on (now by default).

        ``POST /v1/tasks`` (``submitTask``)
        """
        call = Call(
            "POST",
            "/v1/tasks",
            body=Submit(
                type=type,
                **_given(
                    payload=payload,
                    priority=priority,
                    max_attempts=max_attempts,
                    timeout_s=timeout_s,
                    run_at=run_at,
                    backoff_s=backoff_s,
                    subject=subject,
                ),
            ),
            headers={"X-Request-ID": request_id, "traceparent": traceparent},
            idempotency_key=idempotency_key,
            command=True,
        )
        return self._send(call, Created)

    def update_alert_rule(
        self,
        rule_id: str | UUID,
        *,
        name: str,
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
        ],
        threshold: float,
        window_s: int,
        op: Literal["!=", "<", "<=", "==", ">", ">="],
        for_s: int | None = None,
        severity: Literal["critical", "info", "warning"] | None = None,
        labels: dict[str, str] | None = None,
        if_match: int | str | None = None,
        idempotency_key: str | None = None,
        request_id: str | None = None,
        traceparent: str | None = None,
    ) -> Changed:
        """Replace a rule's name and condition (an open alert carries on under it).

        ``PUT /v1/alert-rules/{rule_id}`` (``updateAlertRule``)
        """
        call = Call(
            "PUT",
            f"/v1/alert-rules/{_segment(rule_id)}",
            body=RuleBody(
                name=name,
                metric=metric,
                op=op,
                threshold=threshold,
                window_s=window_s,
                **_given(for_s=for_s, severity=severity, labels=labels),
            ),
            headers={"X-Request-ID": request_id, "traceparent": traceparent},
            if_match=if_match,
            idempotency_key=idempotency_key,
            command=True,
        )
        return self._send(call, Changed)


class AsyncOperations(AsyncTransport):
    """Every operation, for asyncio."""

    async def acknowledge_alert(
        self,
        alert_id: str | UUID,
        *,
        note: str | None = None,
        idempotency_key: str | None = None,
        request_id: str | None = None,
        traceparent: str | None = None,
    ) -> Changed:
        """Acknowledge a firing alert, as the caller (`409` unless it is firing).

        ``POST /v1/alerts/{alert_id}/acknowledge`` (``acknowledgeAlert``)
        """
        call = Call(
            "POST",
            f"/v1/alerts/{_segment(alert_id)}/acknowledge",
            body=Acknowledge(**_given(note=note)),
            headers={"X-Request-ID": request_id, "traceparent": traceparent},
            idempotency_key=idempotency_key,
            command=True,
        )
        return await self._send(call, Changed)

    async def add_participant(
        self,
        conversation_id: str | UUID,
        *,
        user_id: str,
        role: str | None = None,
        idempotency_key: str | None = None,
        request_id: str | None = None,
        traceparent: str | None = None,
    ) -> Changed:
        """Add a participant (``ParticipantJoined``; `409` if it takes part already).

        ``POST /v1/conversations/{conversation_id}/participants`` (``addParticipant``)
        """
        call = Call(
            "POST",
            f"/v1/conversations/{_segment(conversation_id)}/participants",
            body=Join(user_id=user_id, **_given(role=role)),
            headers={"X-Request-ID": request_id, "traceparent": traceparent},
            idempotency_key=idempotency_key,
            command=True,
        )
        return await self._send(call, Changed)

    async def announce(
        self,
        *,
        title: str,
        body: str | None = None,
        priority: Literal["high", "low", "normal", "urgent"] | None = None,
        idempotency_key: str | None = None,
        request_id: str | None = None,
        traceparent: str | None = None,
    ) -> Created:
        """An announcement to every live client of the tenant, users' tokens included
        (``AnnouncementMade``, category ``announcement``).

        ``POST /v1/announcements`` (``announce``)
        """
        call = Call(
            "POST",
            "/v1/announcements",
            body=Announce(title=title, **_given(body=body, priority=priority)),
            headers={"X-Request-ID": request_id, "traceparent": traceparent},
            idempotency_key=idempotency_key,
            command=True,
        )
        return await self._send(call, Created)

    async def archive_conversation(
        self,
        conversation_id: str | UUID,
        *,
        if_match: int | str | None = None,
        idempotency_key: str | None = None,
        request_id: str | None = None,
        traceparent: str | None = None,
    ) -> Changed:
        """Archive a conversation; later posts are refused with 409.

        ``POST /v1/conversations/{conversation_id}/archive`` (``archiveConversation``)
        """
        call = Call(
            "POST",
            f"/v1/conversations/{_segment(conversation_id)}/archive",
            headers={"X-Request-ID": request_id, "traceparent": traceparent},
            if_match=if_match,
            idempotency_key=idempotency_key,
            command=True,
        )
        return await self._send(call, Changed)

    async def archive_document(
        self,
        document_id: str | UUID,
        *,
        if_match: int | str | None = None,
        idempotency_key: str | None = None,
        request_id: str | None = None,
        traceparent: str | None = None,
    ) -> Changed:
        """Archive a document; later ops and renames are refused with 409.

        ``POST /v1/documents/{document_id}/archive`` (``archiveDocument``)
        """
        call = Call(
            "POST",
            f"/v1/documents/{_segment(document_id)}/archive",
            headers={"X-Request-ID": request_id, "traceparent": traceparent},
            if_match=if_match,
            idempotency_key=idempotency_key,
            command=True,
        )
        return await self._send(call, Changed)

    async def cancel_run(
        self,
        run_id: str | UUID,
        *,
        reason: str | None = None,
        idempotency_key: str | None = None,
        request_id: str | None = None,
        traceparent: str | None = None,
    ) -> Changed:
        """The run was cancelled (agent_cancelled).

        ``POST /v1/runs/{run_id}/cancel`` (``cancelRun``)
        """
        call = Call(
            "POST",
            f"/v1/runs/{_segment(run_id)}/cancel",
            body=Cancel(**_given(reason=reason)),
            headers={"X-Request-ID": request_id, "traceparent": traceparent},
            idempotency_key=idempotency_key,
            command=True,
        )
        return await self._send(call, Changed)

    async def cancel_task(
        self,
        task_id: str | UUID,
        *,
        reason: str | None = None,
        idempotency_key: str | None = None,
        request_id: str | None = None,
        traceparent: str | None = None,
    ) -> Changed:
        """Cancel a pending or running task (its worker learns it at its next heartbeat).

        ``POST /v1/tasks/{task_id}/cancel`` (``cancelTask``)
        """
        call = Call(
            "POST",
            f"/v1/tasks/{_segment(task_id)}/cancel",
            body=CancelTask(**_given(reason=reason)),
            headers={"X-Request-ID": request_id, "traceparent": traceparent},
            idempotency_key=idempotency_key,
            command=True,
        )
        return await self._send(call, Changed)

    async def claim_task(
        self,
        *,
        worker_id: str,
        types: list[str],
        wait_s: float | None = None,
        idempotency_key: str | None = None,
        request_id: str | None = None,
        traceparent: str | None = None,
    ) -> Claimed | None:
        """Start the best claimable task (higher priority, then older) for this worker; ``204``
        when none turns up within ``wait_s``.

        ``POST /v1/tasks/claim`` (``claimTask``)
        """
        call = Call(
            "POST",
            "/v1/tasks/claim",
            body=ClaimRequest(worker_id=worker_id, types=types, **_given(wait_s=wait_s)),
            headers={"X-Request-ID": request_id, "traceparent": traceparent},
            idempotency_key=idempotency_key,
            command=True,
        )
        return await self._send_optional(call, Claimed)

    async def complete_run(
        self,
        run_id: str | UUID,
        *,
        content: str | None = None,
        usage: Usage | None = None,
        idempotency_key: str | None = None,
        request_id: str | None = None,
        traceparent: str | None = None,
    ) -> MessageCreated:
        """Complete the run and post its answer to the conversation, atomically
        (agent_completed)

        ``POST /v1/runs/{run_id}/complete`` (``completeRun``)
        """
        call = Call(
            "POST",
            f"/v1/runs/{_segment(run_id)}/complete",
            body=Complete(**_given(content=content, usage=usage)),
            headers={"X-Request-ID": request_id, "traceparent": traceparent},
            idempotency_key=idempotency_key,
            command=True,
        )
        return await self._send(call, MessageCreated)

    async def complete_task(
        self,
        task_id: str | UUID,
        *,
        result: JsonValue | None = None,
        idempotency_key: str | None = None,
        request_id: str | None = None,
        traceparent: str | None = None,
    ) -> Changed:
        """The running attempt succeeded.

        ``POST /v1/tasks/{task_id}/complete`` (``completeTask``)
        """
        call = Call(
            "POST",
            f"/v1/tasks/{_segment(task_id)}/complete",
            body=CompleteTask(**_given(result=result)),
            headers={"X-Request-ID": request_id, "traceparent": traceparent},
            idempotency_key=idempotency_key,
            command=True,
        )
        return await self._send(call, Changed)

    async def complete_tool_call(
        self,
        run_id: str | UUID,
        call_id: str,
        *,
        duration_ms: int,
        result: JsonValue | None = None,
        error: str | None = None,
        idempotency_key: str | None = None,
        request_id: str | None = None,
        traceparent: str | None = None,
    ) -> Changed:
        """A started tool call ends, once (tool_completed).

        ``POST /v1/runs/{run_id}/tools/{call_id}/result`` (``completeToolCall``)
        """
        call = Call(
            "POST",
            f"/v1/runs/{_segment(run_id)}/tools/{_segment(call_id)}/result",
            body=ToolResult(duration_ms=duration_ms, **_given(result=result, error=error)),
            headers={"X-Request-ID": request_id, "traceparent": traceparent},
            idempotency_key=idempotency_key,
            command=True,
        )
        return await self._send(call, Changed)

    async def create_alert_rule(
        self,
        *,
        name: str,
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
        ],
        threshold: float,
        window_s: int,
        op: Literal["!=", "<", "<=", "==", ">", ">="],
        for_s: int | None = None,
        severity: Literal["critical", "info", "warning"] | None = None,
        labels: dict[str, str] | None = None,
        idempotency_key: str | None = None,
        request_id: str | None = None,
        traceparent: str | None = None,
    ) -> Created:
        """Create a rule on one of the tenant's metrics (an unknown metric is a 400).

        ``POST /v1/alert-rules`` (``createAlertRule``)
        """
        call = Call(
            "POST",
            "/v1/alert-rules",
            body=RuleBody(
                name=name,
                metric=metric,
                op=op,
                threshold=threshold,
                window_s=window_s,
                **_given(for_s=for_s, severity=severity, labels=labels),
            ),
            headers={"X-Request-ID": request_id, "traceparent": traceparent},
            idempotency_key=idempotency_key,
            command=True,
        )
        return await self._send(call, Created)

    async def create_document(
        self,
        *,
        title: str,
        content: str | None = None,
        idempotency_key: str | None = None,
        request_id: str | None = None,
        traceparent: str | None = None,
    ) -> DocumentCreated:
        """Create a shared text document at revision 0.

        ``POST /v1/documents`` (``createDocument``)
        """
        call = Call(
            "POST",
            "/v1/documents",
            body=CreateDocument(title=title, **_given(content=content)),
            headers={"X-Request-ID": request_id, "traceparent": traceparent},
            idempotency_key=idempotency_key,
            command=True,
        )
        return await self._send(call, DocumentCreated)

    async def delete_alert_rule(
        self,
        rule_id: str | UUID,
        *,
        if_match: int | str | None = None,
        idempotency_key: str | None = None,
        request_id: str | None = None,
        traceparent: str | None = None,
    ) -> Changed:
        """Delete a rule: it opens no alert again and its open alert resolves.

        ``DELETE /v1/alert-rules/{rule_id}`` (``deleteAlertRule``)
        """
        call = Call(
            "DELETE",
            f"/v1/alert-rules/{_segment(rule_id)}",
            headers={"X-Request-ID": request_id, "traceparent": traceparent},
            if_match=if_match,
            idempotency_key=idempotency_key,
            command=True,
        )
        return await self._send(call, Changed)

    async def delete_webhook(
        self,
        webhook_id: str | UUID,
        *,
        idempotency_key: str | None = None,
        request_id: str | None = None,
        traceparent: str | None = None,
    ) -> Changed:
        """Delete a webhook (``WebhookDeleted``): nothing more is delivered to it, its
        deliveries and secret are dropped, and it is `404` from now on.

        ``DELETE /v1/webhooks/{webhook_id}`` (``deleteWebhook``)
        """
        call = Call(
            "DELETE",
            f"/v1/webhooks/{_segment(webhook_id)}",
            headers={"X-Request-ID": request_id, "traceparent": traceparent},
            idempotency_key=idempotency_key,
            command=True,
        )
        return await self._send(call, Changed)

    async def disable_webhook(
        self,
        webhook_id: str | UUID,
        *,
        idempotency_key: str | None = None,
        request_id: str | None = None,
        traceparent: str | None = None,
    ) -> Changed:
        """Disable a webhook (``WebhookDisabled``): events are not delivered to it until it is
        enabled; `409` if it is disabled already.

        ``POST /v1/webhooks/{webhook_id}/disable`` (``disableWebhook``)
        """
        call = Call(
            "POST",
            f"/v1/webhooks/{_segment(webhook_id)}/disable",
            headers={"X-Request-ID": request_id, "traceparent": traceparent},
            idempotency_key=idempotency_key,
            command=True,
        )
        return await self._send(call, Changed)

    async def enable_webhook(
        self,
        webhook_id: str | UUID,
        *,
        idempotency_key: str | None = None,
        request_id: str | None = None,
        traceparent: str | None = None,
    ) -> Changed:
        """Enable a disabled webhook (``WebhookEnabled``), one its tenant disabled or one
        disabled after repeated failure: the deliveries it had waiting go first; `409` if it
        is enabled.

        ``POST /v1/webhooks/{webhook_id}/enable`` (``enableWebhook``)
        """
        call = Call(
            "POST",
            f"/v1/webhooks/{_segment(webhook_id)}/enable",
            headers={"X-Request-ID": request_id, "traceparent": traceparent},
            idempotency_key=idempotency_key,
            command=True,
        )
        return await self._send(call, Changed)

    async def erase_subject(
        self,
        subject: str,
        *,
        reason: str,
        idempotency_key: str | None = None,
        request_id: str | None = None,
        traceparent: str | None = None,
    ) -> Erased:
        """Erase a data subject: its data keys are destroyed, so every value bound to it reads
        as null everywhere (history, search, live replay, exports), and every API process
        drops its keys within a second

        ``POST /v1/subjects/{subject}/erase`` (``eraseSubject``)
        """
        call = Call(
            "POST",
            f"/v1/subjects/{_segment(subject)}/erase",
            body=Erase(reason=reason),
            headers={"X-Request-ID": request_id, "traceparent": traceparent},
            idempotency_key=idempotency_key,
            command=True,
        )
        return await self._send(call, Erased)

    async def export_subject(
        self,
        subject: str,
    ) -> SubjectExportOut:
        """Every personal value of the tenant bound to a data subject, with its event.

        ``GET /v1/subjects/{subject}/export`` (``exportSubject``)
        """
        call = Call("GET", f"/v1/subjects/{_segment(subject)}/export")
        return await self._send(call, SubjectExportOut)

    async def fail_run(
        self,
        run_id: str | UUID,
        *,
        error: str,
        idempotency_key: str | None = None,
        request_id: str | None = None,
        traceparent: str | None = None,
    ) -> Changed:
        """The run failed (agent_failed).

        ``POST /v1/runs/{run_id}/fail`` (``failRun``)
        """
        call = Call(
            "POST",
            f"/v1/runs/{_segment(run_id)}/fail",
            body=Fail(error=error),
            headers={"X-Request-ID": request_id, "traceparent": traceparent},
            idempotency_key=idempotency_key,
            command=True,
        )
        return await self._send(call, Changed)

    async def fail_task(
        self,
        task_id: str | UUID,
        *,
        error: str,
        retryable: bool | None = None,
        idempotency_key: str | None = None,
        request_id: str | None = None,
        traceparent: str | None = None,
    ) -> Changed:
        """The running attempt failed: retried after a backoff, or dead after the last.

        ``POST /v1/tasks/{task_id}/fail`` (``failTask``)
        """
        call = Call(
            "POST",
            f"/v1/tasks/{_segment(task_id)}/fail",
            body=FailTask(error=error, **_given(retryable=retryable)),
            headers={"X-Request-ID": request_id, "traceparent": traceparent},
            idempotency_key=idempotency_key,
            command=True,
        )
        return await self._send(call, Changed)

    async def get_alert_rule(
        self,
        rule_id: str | UUID,
        *,
        min_position: int | None = None,
        read_your_writes: bool | None = None,
    ) -> Tagged[RuleRow]:
        """One rule, with its version as ETag.

        ``GET /v1/alert-rules/{rule_id}`` (``getAlertRule``)
        """
        call = Call(
            "GET",
            f"/v1/alert-rules/{_segment(rule_id)}",
            query={"min_position": min_position},
            read_your_writes=read_your_writes,
        )
        return await self._send_tagged(call, RuleRow)

    async def get_conversation(
        self,
        conversation_id: str | UUID,
        *,
        min_position: int | None = None,
        read_your_writes: bool | None = None,
    ) -> Tagged[ConversationRow]:
        """One conversation, with its version as ETag.

        ``GET /v1/conversations/{conversation_id}`` (``getConversation``)
        """
        call = Call(
            "GET",
            f"/v1/conversations/{_segment(conversation_id)}",
            query={"min_position": min_position},
            read_your_writes=read_your_writes,
        )
        return await self._send_tagged(call, ConversationRow)

    async def get_current_metrics(
        self,
        *,
        names: str | None = None,
        min_position: int | None = None,
        read_your_writes: bool | None = None,
    ) -> CurrentMetrics:
        """Each metric's sum (or 95th percentile, null without samples; an operator metric's
        worst sample) over the last 24 hours (from the same minute yesterday) and over the
        current minute so far.

        ``GET /v1/metrics`` (``getCurrentMetrics``)
        """
        call = Call(
            "GET",
            "/v1/metrics",
            query={"names": names, "min_position": min_position},
            read_your_writes=read_your_writes,
        )
        return await self._send(call, CurrentMetrics)

    async def get_dashboard(
        self,
        *,
        min_position: int | None = None,
        read_your_writes: bool | None = None,
    ) -> Dashboard:
        """Today's (UTC) totals of every metric and the last hour's series per minute of each
        (for an admin key of ``_system``: of every tenant, and the operator metrics); the
        task dashboard is at ``tasks``.

        ``GET /v1/dashboard`` (``getDashboard``)
        """
        call = Call(
            "GET",
            "/v1/dashboard",
            query={"min_position": min_position},
            read_your_writes=read_your_writes,
        )
        return await self._send(call, Dashboard)

    async def get_document(
        self,
        document_id: str | UUID,
        *,
        revision: int | None = None,
    ) -> Tagged[DocumentState]:
        """The document at its head, or as it was at `revision` (from the log, so an op just
        answered is in it), with its version as ETag.

        ``GET /v1/documents/{document_id}`` (``getDocument``)
        """
        call = Call("GET", f"/v1/documents/{_segment(document_id)}", query={"revision": revision})
        return await self._send_tagged(call, DocumentState)

    async def get_liveness(
        self,
    ) -> Liveness:
        """The process is alive.

        ``GET /healthz`` (``getLiveness``)
        """
        call = Call("GET", "/healthz")
        return await self._send(call, Liveness)

    async def get_message(
        self,
        conversation_id: str | UUID,
        message_id: str | UUID,
        *,
        min_position: int | None = None,
        read_your_writes: bool | None = None,
    ) -> MessageOut:
        """One message of a conversation (where a posted message's Location points).

        ``GET /v1/conversations/{conversation_id}/messages/{message_id}`` (``getMessage``)
        """
        call = Call(
            "GET",
            f"/v1/conversations/{_segment(conversation_id)}/messages/{_segment(message_id)}",
            query={"min_position": min_position},
            read_your_writes=read_your_writes,
        )
        return await self._send(call, MessageOut)

    async def get_metric_history(
        self,
        *,
        name: Literal[
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
        ],
        label: str | None = None,
        from_: str | datetime | None = None,
        to: str | datetime | None = None,
        step: Literal["1d", "1h", "1m", "5m"] | None = None,
        min_position: int | None = None,
        read_your_writes: bool | None = None,
    ) -> Series:
        """The metric's sum (or 95th percentile) over each step from ``from`` to ``to`` (at
        most 1440 steps), over all labels unless ``label`` is given; steps without activity
        are 0 (a percentile null; an operator metric's worst sample, null without any).
        Steps of 1 h and 1 d are read from hour buckets (kept longer than minute buckets).

        ``GET /v1/metrics/history`` (``getMetricHistory``)
        """
        call = Call(
            "GET",
            "/v1/metrics/history",
            query={
                "name": name,
                "label": label,
                "from": from_,
                "to": to,
                "step": step,
                "min_position": min_position,
            },
            read_your_writes=read_your_writes,
        )
        return await self._send(call, Series)

    async def get_metrics(
        self,
    ) -> str:
        """Get

        ``GET /metrics`` (``getMetrics``)
        """
        call = Call("GET", "/metrics")
        return await self._send_text(call)

    async def get_notification(
        self,
        user_id: str,
        notification_id: str | UUID,
        *,
        min_position: int | None = None,
        read_your_writes: bool | None = None,
    ) -> NotificationRow:
        """One of a user's notifications (where a sent one's Location points).

        ``GET /v1/users/{user_id}/notifications/{notification_id}`` (``getNotification``)
        """
        call = Call(
            "GET",
            f"/v1/users/{_segment(user_id)}/notifications/{_segment(notification_id)}",
            query={"min_position": min_position},
            read_your_writes=read_your_writes,
        )
        return await self._send(call, NotificationRow)

    async def get_presence(
        self,
        conversation_id: str | UUID,
    ) -> Presence:
        """The users present in the conversation now, across every API process.

        ``GET /v1/conversations/{conversation_id}/presence`` (``getPresence``)
        """
        call = Call("GET", f"/v1/conversations/{_segment(conversation_id)}/presence")
        return await self._send(call, Presence)

    async def get_readiness(
        self,
    ) -> Readiness:
        """200 ``ready`` when PostgreSQL, NATS and Valkey answer and no projection is stopped
        or has parked events; otherwise 503 ``degraded``

        ``GET /readyz`` (``getReadiness``)
        """
        call = Call("GET", "/readyz")
        return await self._send(call, Readiness)

    async def get_run(
        self,
        run_id: str | UUID,
        *,
        min_position: int | None = None,
        read_your_writes: bool | None = None,
    ) -> Tagged[dict[str, Any]]:
        """Steps in order with timestamps and durations, tool calls, and totals.

        ``GET /v1/runs/{run_id}`` (``getRun``)
        """
        call = Call(
            "GET",
            f"/v1/runs/{_segment(run_id)}",
            query={"min_position": min_position},
            read_your_writes=read_your_writes,
        )
        return await self._send_tagged(call, dict[str, Any])

    async def get_stream_state(
        self,
        aggregate_id: str | UUID,
        *,
        version: int | None = None,
        as_of: str | datetime | None = None,
    ) -> StateOut:
        """The aggregate's state as of a version or a time (latest by default; with both, the
        version as it stood then), and the events that led there.

        ``GET /v1/streams/{aggregate_id}/state`` (``getStreamState``)
        """
        call = Call(
            "GET",
            f"/v1/streams/{_segment(aggregate_id)}/state",
            query={"version": version, "as_of": as_of},
        )
        return await self._send(call, StateOut)

    async def get_task(
        self,
        task_id: str | UUID,
        *,
        min_position: int | None = None,
        read_your_writes: bool | None = None,
    ) -> Tagged[dict[str, Any]]:
        """One task with every attempt (worker, times, outcome).

        ``GET /v1/tasks/{task_id}`` (``getTask``)
        """
        call = Call(
            "GET",
            f"/v1/tasks/{_segment(task_id)}",
            query={"min_position": min_position},
            read_your_writes=read_your_writes,
        )
        return await self._send_tagged(call, dict[str, Any])

    async def get_task_dashboard(
        self,
        *,
        min_position: int | None = None,
        read_your_writes: bool | None = None,
    ) -> dict[str, Any]:
        """Counts by state, queue depth by type, oldest pending age, run time p50/p95.

        ``GET /v1/dashboard/tasks`` (``getTaskDashboard``)
        """
        call = Call(
            "GET",
            "/v1/dashboard/tasks",
            query={"min_position": min_position},
            read_your_writes=read_your_writes,
        )
        return await self._send(call, dict[str, Any])

    async def get_usage(
        self,
        *,
        min_position: int | None = None,
        read_your_writes: bool | None = None,
    ) -> dict[str, Any]:
        """Today's (UTC) agent-run usage of the tenant, by key; its budget and what remains,
        and how many of its usage events are parked (not counted).

        ``GET /v1/usage`` (``getUsage``)
        """
        call = Call(
            "GET",
            "/v1/usage",
            query={"min_position": min_position},
            read_your_writes=read_your_writes,
        )
        return await self._send(call, dict[str, Any])

    async def get_webhook(
        self,
        webhook_id: str | UUID,
    ) -> WebhookOut:
        """One of the tenant's webhooks (never its secret), from its own events.

        ``GET /v1/webhooks/{webhook_id}`` (``getWebhook``)
        """
        call = Call("GET", f"/v1/webhooks/{_segment(webhook_id)}")
        return await self._send(call, WebhookOut)

    async def heartbeat_task(
        self,
        task_id: str | UUID,
        *,
        progress: float | None = None,
        note: str | None = None,
        idempotency_key: str | None = None,
        request_id: str | None = None,
        traceparent: str | None = None,
    ) -> Changed:
        """Extend the lease; a cancelled task answers 409 (type task-cancelled).

        ``POST /v1/tasks/{task_id}/heartbeat`` (``heartbeatTask``)
        """
        call = Call(
            "POST",
            f"/v1/tasks/{_segment(task_id)}/heartbeat",
            body=Heartbeat(**_given(progress=progress, note=note)),
            headers={"X-Request-ID": request_id, "traceparent": traceparent},
            idempotency_key=idempotency_key,
            command=True,
        )
        return await self._send(call, Changed)

    async def list_alert_rules(
        self,
        *,
        after: str | None = None,
        limit: int | None = None,
        min_position: int | None = None,
        read_your_writes: bool | None = None,
    ) -> RulePage:
        """The tenant's rules (not deleted), newest first.

        ``GET /v1/alert-rules`` (``listAlertRules``)
        """
        call = Call(
            "GET",
            "/v1/alert-rules",
            query={"after": after, "limit": limit, "min_position": min_position},
            read_your_writes=read_your_writes,
        )
        return await self._send(call, RulePage)

    async def iter_list_alert_rules(
        self,
        *,
        limit: int | None = None,
        min_position: int | None = None,
        read_your_writes: bool | None = None,
        after: str | None = None,
    ) -> AsyncIterator[RuleRow]:
        """Every item of `list_alert_rules`, page after page (from ``after``)."""
        while True:
            call = Call(
                "GET",
                "/v1/alert-rules",
                query={"after": after, "limit": limit, "min_position": min_position},
                read_your_writes=read_your_writes,
            )
            page = await self._send(call, RulePage)
            for item in page.items:
                yield item
            after = page.next
            if after is None:
                return

    async def list_alerts(
        self,
        *,
        state: Literal["acknowledged", "firing", "pending", "resolved"] | None = None,
        after: str | None = None,
        limit: int | None = None,
        min_position: int | None = None,
        read_your_writes: bool | None = None,
    ) -> AlertPage:
        """The tenant's alerts, newest first.

        ``GET /v1/alerts`` (``listAlerts``)
        """
        call = Call(
            "GET",
            "/v1/alerts",
            query={"state": state, "after": after, "limit": limit, "min_position": min_position},
            read_your_writes=read_your_writes,
        )
        return await self._send(call, AlertPage)

    async def iter_list_alerts(
        self,
        *,
        state: Literal["acknowledged", "firing", "pending", "resolved"] | None = None,
        limit: int | None = None,
        min_position: int | None = None,
        read_your_writes: bool | None = None,
        after: str | None = None,
    ) -> AsyncIterator[AlertRow]:
        """Every item of `list_alerts`, page after page (from ``after``)."""
        while True:
            call = Call(
                "GET",
                "/v1/alerts",
                query={
                    "state": state,
                    "after": after,
                    "limit": limit,
                    "min_position": min_position,
                },
                read_your_writes=read_your_writes,
            )
            page = await self._send(call, AlertPage)
            for item in page.items:
                yield item
            after = page.next
            if after is None:
                return

    async def list_audit(
        self,
        *,
        actor: str | None = None,
        action: str | None = None,
        target: str | None = None,
        since: str | datetime | None = None,
        until: str | datetime | None = None,
        after: str | None = None,
        limit: int | None = None,
        min_position: int | None = None,
        read_your_writes: bool | None = None,
    ) -> AuditPage:
        """Every command of the tenant, accepted or denied, oldest first: actor (``key:…``),
        key id, action (the command), target, outcome, status, reason, request and trace
        ids.

        ``GET /v1/audit`` (``listAudit``)
        """
        call = Call(
            "GET",
            "/v1/audit",
            query={
                "actor": actor,
                "action": action,
                "target": target,
                "since": since,
                "until": until,
                "after": after,
                "limit": limit,
                "min_position": min_position,
            },
            read_your_writes=read_your_writes,
        )
        return await self._send(call, AuditPage)

    async def iter_list_audit(
        self,
        *,
        actor: str | None = None,
        action: str | None = None,
        target: str | None = None,
        since: str | datetime | None = None,
        until: str | datetime | None = None,
        limit: int | None = None,
        min_position: int | None = None,
        read_your_writes: bool | None = None,
        after: str | None = None,
    ) -> AsyncIterator[AuditEntry]:
        """Every item of `list_audit`, page after page (from ``after``)."""
        while True:
            call = Call(
                "GET",
                "/v1/audit",
                query={
                    "actor": actor,
                    "action": action,
                    "target": target,
                    "since": since,
                    "until": until,
                    "after": after,
                    "limit": limit,
                    "min_position": min_position,
                },
                read_your_writes=read_your_writes,
            )
            page = await self._send(call, AuditPage)
            for item in page.items:
                yield item
            after = page.next
            if after is None:
                return

    async def list_conversation_runs(
        self,
        conversation_id: str | UUID,
        *,
        after: str | None = None,
        limit: int | None = None,
        min_position: int | None = None,
        read_your_writes: bool | None = None,
    ) -> dict[str, Any]:
        """The conversation's runs, oldest first.

        ``GET /v1/conversations/{conversation_id}/runs`` (``listConversationRuns``)
        """
        call = Call(
            "GET",
            f"/v1/conversations/{_segment(conversation_id)}/runs",
            query={"after": after, "limit": limit, "min_position": min_position},
            read_your_writes=read_your_writes,
        )
        return await self._send(call, dict[str, Any])

    async def iter_list_conversation_runs(
        self,
        conversation_id: str | UUID,
        *,
        limit: int | None = None,
        min_position: int | None = None,
        read_your_writes: bool | None = None,
        after: str | None = None,
    ) -> AsyncIterator[Any]:
        """Every item of `list_conversation_runs`, page after page (from ``after``)."""
        while True:
            call = Call(
                "GET",
                f"/v1/conversations/{_segment(conversation_id)}/runs",
                query={"after": after, "limit": limit, "min_position": min_position},
                read_your_writes=read_your_writes,
            )
            page = await self._send(call, dict[str, Any])
            for item in page["items"]:
                yield item
            after = page["next"]
            if after is None:
                return

    async def list_conversations(
        self,
        *,
        after: str | None = None,
        limit: int | None = None,
        min_position: int | None = None,
        read_your_writes: bool | None = None,
    ) -> ConversationPage:
        """The tenant's conversations, newest first.

        ``GET /v1/conversations`` (``listConversations``)
        """
        call = Call(
            "GET",
            "/v1/conversations",
            query={"after": after, "limit": limit, "min_position": min_position},
            read_your_writes=read_your_writes,
        )
        return await self._send(call, ConversationPage)

    async def iter_list_conversations(
        self,
        *,
        limit: int | None = None,
        min_position: int | None = None,
        read_your_writes: bool | None = None,
        after: str | None = None,
    ) -> AsyncIterator[ConversationRow]:
        """Every item of `list_conversations`, page after page (from ``after``)."""
        while True:
            call = Call(
                "GET",
                "/v1/conversations",
                query={"after": after, "limit": limit, "min_position": min_position},
                read_your_writes=read_your_writes,
            )
            page = await self._send(call, ConversationPage)
            for item in page.items:
                yield item
            after = page.next
            if after is None:
                return

    async def list_documents(
        self,
        *,
        after: str | None = None,
        limit: int | None = None,
        min_position: int | None = None,
        read_your_writes: bool | None = None,
    ) -> DocumentPage:
        """The tenant's documents, newest first (each with its length, not its content).

        ``GET /v1/documents`` (``listDocuments``)
        """
        call = Call(
            "GET",
            "/v1/documents",
            query={"after": after, "limit": limit, "min_position": min_position},
            read_your_writes=read_your_writes,
        )
        return await self._send(call, DocumentPage)

    async def iter_list_documents(
        self,
        *,
        limit: int | None = None,
        min_position: int | None = None,
        read_your_writes: bool | None = None,
        after: str | None = None,
    ) -> AsyncIterator[DocumentRow]:
        """Every item of `list_documents`, page after page (from ``after``)."""
        while True:
            call = Call(
                "GET",
                "/v1/documents",
                query={"after": after, "limit": limit, "min_position": min_position},
                read_your_writes=read_your_writes,
            )
            page = await self._send(call, DocumentPage)
            for item in page.items:
                yield item
            after = page.next
            if after is None:
                return

    async def list_keys(
        self,
    ) -> KeyPage:
        """The tenant's keys (never their secrets), revoked ones included.

        ``GET /v1/keys`` (``listKeys``)
        """
        call = Call("GET", "/v1/keys")
        return await self._send(call, KeyPage)

    async def list_messages(
        self,
        conversation_id: str | UUID,
        *,
        after: str | None = None,
        limit: int | None = None,
        min_position: int | None = None,
        read_your_writes: bool | None = None,
    ) -> MessagePage:
        """The conversation's messages, oldest first.

        ``GET /v1/conversations/{conversation_id}/messages`` (``listMessages``)
        """
        call = Call(
            "GET",
            f"/v1/conversations/{_segment(conversation_id)}/messages",
            query={"after": after, "limit": limit, "min_position": min_position},
            read_your_writes=read_your_writes,
        )
        return await self._send(call, MessagePage)

    async def iter_list_messages(
        self,
        conversation_id: str | UUID,
        *,
        limit: int | None = None,
        min_position: int | None = None,
        read_your_writes: bool | None = None,
        after: str | None = None,
    ) -> AsyncIterator[MessageOut]:
        """Every item of `list_messages`, page after page (from ``after``)."""
        while True:
            call = Call(
                "GET",
                f"/v1/conversations/{_segment(conversation_id)}/messages",
                query={"after": after, "limit": limit, "min_position": min_position},
                read_your_writes=read_your_writes,
            )
            page = await self._send(call, MessagePage)
            for item in page.items:
                yield item
            after = page.next
            if after is None:
                return

    async def list_my_notifications(
        self,
        *,
        unread: bool | None = None,
        after: str | None = None,
        limit: int | None = None,
        min_position: int | None = None,
        read_your_writes: bool | None = None,
    ) -> NotificationPage:
        """The token's user's notifications, newest first, and how many are unread (for a key,
        which has no user of its own, none).

        ``GET /v1/me/notifications`` (``listMyNotifications``)
        """
        call = Call(
            "GET",
            "/v1/me/notifications",
            query={"unread": unread, "after": after, "limit": limit, "min_position": min_position},
            read_your_writes=read_your_writes,
        )
        return await self._send(call, NotificationPage)

    async def iter_list_my_notifications(
        self,
        *,
        unread: bool | None = None,
        limit: int | None = None,
        min_position: int | None = None,
        read_your_writes: bool | None = None,
        after: str | None = None,
    ) -> AsyncIterator[NotificationRow]:
        """Every item of `list_my_notifications`, page after page (from ``after``)."""
        while True:
            call = Call(
                "GET",
                "/v1/me/notifications",
                query={
                    "unread": unread,
                    "after": after,
                    "limit": limit,
                    "min_position": min_position,
                },
                read_your_writes=read_your_writes,
            )
            page = await self._send(call, NotificationPage)
            for item in page.items:
                yield item
            after = page.next
            if after is None:
                return

    async def list_notifications(
        self,
        user_id: str,
        *,
        unread: bool | None = None,
        after: str | None = None,
        limit: int | None = None,
        min_position: int | None = None,
        read_your_writes: bool | None = None,
    ) -> NotificationPage:
        """A user's notifications, newest first, and how many are unread.

        ``GET /v1/users/{user_id}/notifications`` (``listNotifications``)
        """
        call = Call(
            "GET",
            f"/v1/users/{_segment(user_id)}/notifications",
            query={"unread": unread, "after": after, "limit": limit, "min_position": min_position},
            read_your_writes=read_your_writes,
        )
        return await self._send(call, NotificationPage)

    async def iter_list_notifications(
        self,
        user_id: str,
        *,
        unread: bool | None = None,
        limit: int | None = None,
        min_position: int | None = None,
        read_your_writes: bool | None = None,
        after: str | None = None,
    ) -> AsyncIterator[NotificationRow]:
        """Every item of `list_notifications`, page after page (from ``after``)."""
        while True:
            call = Call(
                "GET",
                f"/v1/users/{_segment(user_id)}/notifications",
                query={
                    "unread": unread,
                    "after": after,
                    "limit": limit,
                    "min_position": min_position,
                },
                read_your_writes=read_your_writes,
            )
            page = await self._send(call, NotificationPage)
            for item in page.items:
                yield item
            after = page.next
            if after is None:
                return

    async def list_operations(
        self,
        document_id: str | UUID,
        *,
        from_revision: int | None = None,
        limit: int | None = None,
    ) -> OperationPage:
        """The document's ops after `from_revision`, oldest first, as applied; `next` is the
        `from_revision` of the next page.

        ``GET /v1/documents/{document_id}/operations`` (``listOperations``)
        """
        call = Call(
            "GET",
            f"/v1/documents/{_segment(document_id)}/operations",
            query={"from_revision": from_revision, "limit": limit},
        )
        return await self._send(call, OperationPage)

    async def list_stream_events(
        self,
        aggregate_id: str | UUID,
        *,
        from_version: int | None = None,
        limit: int | None = None,
    ) -> StreamPage:
        """Stored events of one aggregate, oldest first; ``next`` is the next from_version.

        ``GET /v1/streams/{aggregate_id}/events`` (``listStreamEvents``)
        """
        call = Call(
            "GET",
            f"/v1/streams/{_segment(aggregate_id)}/events",
            query={"from_version": from_version, "limit": limit},
        )
        return await self._send(call, StreamPage)

    async def list_tasks(
        self,
        *,
        type: str | None = None,
        state: Literal["cancelled", "dead", "failed", "pending", "running", "succeeded"]
        | None = None,
        after: str | None = None,
        limit: int | None = None,
        min_position: int | None = None,
        read_your_writes: bool | None = None,
    ) -> dict[str, Any]:
        """The tenant's tasks, newest first, optionally of one state and type.

        ``GET /v1/tasks`` (``listTasks``)
        """
        call = Call(
            "GET",
            "/v1/tasks",
            query={
                "type": type,
                "state": state,
                "after": after,
                "limit": limit,
                "min_position": min_position,
            },
            read_your_writes=read_your_writes,
        )
        return await self._send(call, dict[str, Any])

    async def iter_list_tasks(
        self,
        *,
        type: str | None = None,
        state: Literal["cancelled", "dead", "failed", "pending", "running", "succeeded"]
        | None = None,
        limit: int | None = None,
        min_position: int | None = None,
        read_your_writes: bool | None = None,
        after: str | None = None,
    ) -> AsyncIterator[Any]:
        """Every item of `list_tasks`, page after page (from ``after``)."""
        while True:
            call = Call(
                "GET",
                "/v1/tasks",
                query={
                    "type": type,
                    "state": state,
                    "after": after,
                    "limit": limit,
                    "min_position": min_position,
                },
                read_your_writes=read_your_writes,
            )
            page = await self._send(call, dict[str, Any])
            for item in page["items"]:
                yield item
            after = page["next"]
            if after is None:
                return

    async def list_webhook_deliveries(
        self,
        webhook_id: str | UUID,
        *,
        status: Literal["dead", "delivered", "pending", "retrying"] | None = None,
        after: str | None = None,
        limit: int | None = None,
        min_position: int | None = None,
        read_your_writes: bool | None = None,
    ) -> DeliveryPage:
        """A webhook's deliveries in log order: status, attempts, last error, response code.

        ``GET /v1/webhooks/{webhook_id}/deliveries`` (``listWebhookDeliveries``)
        """
        call = Call(
            "GET",
            f"/v1/webhooks/{_segment(webhook_id)}/deliveries",
            query={"status": status, "after": after, "limit": limit, "min_position": min_position},
            read_your_writes=read_your_writes,
        )
        return await self._send(call, DeliveryPage)

    async def iter_list_webhook_deliveries(
        self,
        webhook_id: str | UUID,
        *,
        status: Literal["dead", "delivered", "pending", "retrying"] | None = None,
        limit: int | None = None,
        min_position: int | None = None,
        read_your_writes: bool | None = None,
        after: str | None = None,
    ) -> AsyncIterator[DeliveryOut]:
        """Every item of `list_webhook_deliveries`, page after page (from ``after``)."""
        while True:
            call = Call(
                "GET",
                f"/v1/webhooks/{_segment(webhook_id)}/deliveries",
                query={
                    "status": status,
                    "after": after,
                    "limit": limit,
                    "min_position": min_position,
                },
                read_your_writes=read_your_writes,
            )
            page = await self._send(call, DeliveryPage)
            for item in page.items:
                yield item
            after = page.next
            if after is None:
                return

    async def list_webhooks(
        self,
        *,
        after: str | None = None,
        limit: int | None = None,
        min_position: int | None = None,
        read_your_writes: bool | None = None,
    ) -> WebhookPage:
        """The tenant's webhooks, oldest first (as the dispatcher knows them).

        ``GET /v1/webhooks`` (``listWebhooks``)
        """
        call = Call(
            "GET",
            "/v1/webhooks",
            query={"after": after, "limit": limit, "min_position": min_position},
            read_your_writes=read_your_writes,
        )
        return await self._send(call, WebhookPage)

    async def iter_list_webhooks(
        self,
        *,
        limit: int | None = None,
        min_position: int | None = None,
        read_your_writes: bool | None = None,
        after: str | None = None,
    ) -> AsyncIterator[WebhookOut]:
        """Every item of `list_webhooks`, page after page (from ``after``)."""
        while True:
            call = Call(
                "GET",
                "/v1/webhooks",
                query={"after": after, "limit": limit, "min_position": min_position},
                read_your_writes=read_your_writes,
            )
            page = await self._send(call, WebhookPage)
            for item in page.items:
                yield item
            after = page.next
            if after is None:
                return

    async def live_stats(
        self,
    ) -> LiveStatsOut:
        """The tenant's live connections now, across every API process (by transport and by
        user), and the events delivered and resyncs (slow clients dropped) so far.

        ``GET /v1/live/stats`` (``liveStats``)
        """
        call = Call("GET", "/v1/live/stats")
        return await self._send(call, LiveStatsOut)

    async def mark_my_notification_read(
        self,
        notification_id: str | UUID,
        *,
        idempotency_key: str | None = None,
        request_id: str | None = None,
        traceparent: str | None = None,
    ) -> Changed:
        """Mark one of the token's user's unread notifications read.

        ``POST /v1/me/notifications/{notification_id}/read`` (``markMyNotificationRead``)
        """
        call = Call(
            "POST",
            f"/v1/me/notifications/{_segment(notification_id)}/read",
            headers={"X-Request-ID": request_id, "traceparent": traceparent},
            idempotency_key=idempotency_key,
            command=True,
        )
        return await self._send(call, Changed)

    async def mark_notification_read(
        self,
        user_id: str,
        notification_id: str | UUID,
        *,
        idempotency_key: str | None = None,
        request_id: str | None = None,
        traceparent: str | None = None,
    ) -> Changed:
        """Mark one of a user's unread notifications read (`409` if it is not one).

        ``POST /v1/users/{user_id}/notifications/{notification_id}/read``
        (``markNotificationRead``)
        """
        call = Call(
            "POST",
            f"/v1/users/{_segment(user_id)}/notifications/{_segment(notification_id)}/read",
            headers={"X-Request-ID": request_id, "traceparent": traceparent},
            idempotency_key=idempotency_key,
            command=True,
        )
        return await self._send(call, Changed)

    async def mint_user_token(
        self,
        *,
        user_id: str,
        scopes: list[Literal["documents:write", "live:read", "messages:write", "presence:write"]],
        conversations: list[str] | None = None,
        documents: list[str] | None = None,
        name: str | None = None,
        ttl_s: int | None = None,
        idempotency_key: str | None = None,
        request_id: str | None = None,
        traceparent: str | None = None,
    ) -> Minted:
        """A signed token for one user of the tenant (a JWT, at most a day): the user's browser
        follows `/v1/live` with it, and sees only what it names.

        ``POST /v1/tokens`` (``mintUserToken``)
        """
        call = Call(
            "POST",
            "/v1/tokens",
            body=MintToken(
                user_id=user_id,
                scopes=scopes,
                **_given(conversations=conversations, documents=documents, name=name, ttl_s=ttl_s),
            ),
            headers={"X-Request-ID": request_id, "traceparent": traceparent},
            idempotency_key=idempotency_key,
            command=True,
        )
        return await self._send(call, Minted)

    async def mute_alert_rule(
        self,
        rule_id: str | UUID,
        *,
        until: str,
        if_match: int | str | None = None,
        idempotency_key: str | None = None,
        request_id: str | None = None,
        traceparent: str | None = None,
    ) -> Changed:
        """Open no alert of the rule before `until` (an open one carries on).

        ``POST /v1/alert-rules/{rule_id}/mute`` (``muteAlertRule``)
        """
        call = Call(
            "POST",
            f"/v1/alert-rules/{_segment(rule_id)}/mute",
            body=Mute(until=until),
            headers={"X-Request-ID": request_id, "traceparent": traceparent},
            if_match=if_match,
            idempotency_key=idempotency_key,
            command=True,
        )
        return await self._send(call, Changed)

    async def post_message(
        self,
        conversation_id: str | UUID,
        *,
        role: Literal["assistant", "system", "tool", "user"],
        content: str,
        author: str | None = None,
        tokens: int | None = None,
        content_type: str | None = None,
        if_match: int | str | None = None,
        idempotency_key: str | None = None,
        request_id: str | None = None,
        traceparent: str | None = None,
    ) -> MessageCreated:
        """Post a message; without If-Match it retries by itself on a concurrent write. With a
        user token: into a conversation the token names, as its user.

        ``POST /v1/conversations/{conversation_id}/messages`` (``postMessage``)
        """
        call = Call(
            "POST",
            f"/v1/conversations/{_segment(conversation_id)}/messages",
            body=PostMessage(
                role=role,
                content=content,
                **_given(author=author, tokens=tokens, content_type=content_type),
            ),
            headers={"X-Request-ID": request_id, "traceparent": traceparent},
            if_match=if_match,
            idempotency_key=idempotency_key,
            command=True,
        )
        return await self._send(call, MessageCreated)

    async def record_thought(
        self,
        run_id: str | UUID,
        *,
        text: str,
        idempotency_key: str | None = None,
        request_id: str | None = None,
        traceparent: str | None = None,
    ) -> Changed:
        """Record a thought (agent_thinking).

        ``POST /v1/runs/{run_id}/thinking`` (``recordThought``)
        """
        call = Call(
            "POST",
            f"/v1/runs/{_segment(run_id)}/thinking",
            body=Thinking(text=text),
            headers={"X-Request-ID": request_id, "traceparent": traceparent},
            idempotency_key=idempotency_key,
            command=True,
        )
        return await self._send(call, Changed)

    async def register_webhook(
        self,
        *,
        url: str,
        events: list[str],
        secret: str | None = None,
        idempotency_key: str | None = None,
        request_id: str | None = None,
        traceparent: str | None = None,
    ) -> WebhookCreated:
        """Register a webhook for the event types or patterns (``Task*``, ``*``) it lists.
        Without a ``secret`` Chronicle makes one (``whsec_…``) and answers it this once.

        ``POST /v1/webhooks`` (``registerWebhook``)
        """
        call = Call(
            "POST",
            "/v1/webhooks",
            body=RegisterWebhook(url=url, events=events, **_given(secret=secret)),
            headers={"X-Request-ID": request_id, "traceparent": traceparent},
            idempotency_key=idempotency_key,
            command=True,
        )
        return await self._send(call, WebhookCreated)

    async def remove_participant(
        self,
        conversation_id: str | UUID,
        user_id: str,
        *,
        idempotency_key: str | None = None,
        request_id: str | None = None,
        traceparent: str | None = None,
    ) -> Changed:
        """Remove a participant (``ParticipantLeft``; `409` if it takes no part).

        ``DELETE /v1/conversations/{conversation_id}/participants/{user_id}``
        (``removeParticipant``)
        """
        call = Call(
            "DELETE",
            f"/v1/conversations/{_segment(conversation_id)}/participants/{_segment(user_id)}",
            headers={"X-Request-ID": request_id, "traceparent": traceparent},
            idempotency_key=idempotency_key,
            command=True,
        )
        return await self._send(call, Changed)

    async def rename_conversation(
        self,
        conversation_id: str | UUID,
        *,
        title: str,
        if_match: int | str | None = None,
        idempotency_key: str | None = None,
        request_id: str | None = None,
        traceparent: str | None = None,
    ) -> Changed:
        """Rename a conversation.

        ``POST /v1/conversations/{conversation_id}/rename`` (``renameConversation``)
        """
        call = Call(
            "POST",
            f"/v1/conversations/{_segment(conversation_id)}/rename",
            body=RenameConversation(title=title),
            headers={"X-Request-ID": request_id, "traceparent": traceparent},
            if_match=if_match,
            idempotency_key=idempotency_key,
            command=True,
        )
        return await self._send(call, Changed)

    async def rename_document(
        self,
        document_id: str | UUID,
        *,
        title: str,
        if_match: int | str | None = None,
        idempotency_key: str | None = None,
        request_id: str | None = None,
        traceparent: str | None = None,
    ) -> Changed:
        """Rename a document.

        ``POST /v1/documents/{document_id}/rename`` (``renameDocument``)
        """
        call = Call(
            "POST",
            f"/v1/documents/{_segment(document_id)}/rename",
            body=RenameDocument(title=title),
            headers={"X-Request-ID": request_id, "traceparent": traceparent},
            if_match=if_match,
            idempotency_key=idempotency_key,
            command=True,
        )
        return await self._send(call, Changed)

    async def retry_task(
        self,
        task_id: str | UUID,
        *,
        idempotency_key: str | None = None,
        request_id: str | None = None,
        traceparent: str | None = None,
    ) -> Changed:
        """Give a dead letter one more attempt, claimable now (`TaskRequeued`); `409` for a
        task that is not dead.

        ``POST /v1/tasks/{task_id}/retry`` (``retryTask``)
        """
        call = Call(
            "POST",
            f"/v1/tasks/{_segment(task_id)}/retry",
            headers={"X-Request-ID": request_id, "traceparent": traceparent},
            idempotency_key=idempotency_key,
            command=True,
        )
        return await self._send(call, Changed)

    async def retry_webhook_delivery(
        self,
        webhook_id: str | UUID,
        delivery_id: str | UUID,
        *,
        idempotency_key: str | None = None,
        request_id: str | None = None,
        traceparent: str | None = None,
    ) -> Changed:
        """Deliver one delivery again (``WebhookDeliveryRetried``), from its first attempt;
        accepted: the dispatcher puts it back in line at the answer's ``position``.

        ``POST /v1/webhooks/{webhook_id}/deliveries/{delivery_id}/retry``
        (``retryWebhookDelivery``)
        """
        call = Call(
            "POST",
            f"/v1/webhooks/{_segment(webhook_id)}/deliveries/{_segment(delivery_id)}/retry",
            headers={"X-Request-ID": request_id, "traceparent": traceparent},
            idempotency_key=idempotency_key,
            command=True,
        )
        return await self._send(call, Changed)

    async def revoke_key(
        self,
        key_id: str | UUID,
        *,
        reason: str | None = None,
        idempotency_key: str | None = None,
        request_id: str | None = None,
        traceparent: str | None = None,
    ) -> Changed:
        """Revoke one of the tenant's keys; every API process refuses it within a second.

        ``POST /v1/keys/{key_id}/revoke`` (``revokeKey``)
        """
        call = Call(
            "POST",
            f"/v1/keys/{_segment(key_id)}/revoke",
            body=Revoke(**_given(reason=reason)),
            headers={"X-Request-ID": request_id, "traceparent": traceparent},
            idempotency_key=idempotency_key,
            command=True,
        )
        return await self._send(call, Changed)

    async def revoke_user_tokens(
        self,
        user_id: str,
        *,
        idempotency_key: str | None = None,
        request_id: str | None = None,
        traceparent: str | None = None,
    ) -> Revoked:
        """Refuse every token of the user issued until now, on every API process within a
        second.

        ``POST /v1/users/{user_id}/revoke-tokens`` (``revokeUserTokens``)
        """
        call = Call(
            "POST",
            f"/v1/users/{_segment(user_id)}/revoke-tokens",
            headers={"X-Request-ID": request_id, "traceparent": traceparent},
            idempotency_key=idempotency_key,
            command=True,
        )
        return await self._send(call, Revoked)

    async def rotate_user_token_key(
        self,
        *,
        retire_previous: Literal["at_expiry", "now"] | None = None,
        idempotency_key: str | None = None,
        request_id: str | None = None,
        traceparent: str | None = None,
    ) -> KeyRotated:
        """Sign the tenant's user tokens with a new key from now on

        ``POST /v1/tokens/rotate-key`` (``rotateUserTokenKey``)
        """
        call = Call(
            "POST",
            "/v1/tokens/rotate-key",
            body=RotateKey(**_given(retire_previous=retire_previous)),
            headers={"X-Request-ID": request_id, "traceparent": traceparent},
            idempotency_key=idempotency_key,
            command=True,
        )
        return await self._send(call, KeyRotated)

    async def search_messages(
        self,
        *,
        q: str,
        after: str | None = None,
        limit: int | None = None,
        min_position: int | None = None,
        read_your_writes: bool | None = None,
    ) -> SearchPage:
        """Messages matching ``q`` (words, "phrases", -exclusions, or), best first.

        ``GET /v1/search/messages`` (``searchMessages``)
        """
        call = Call(
            "GET",
            "/v1/search/messages",
            query={"q": q, "after": after, "limit": limit, "min_position": min_position},
            read_your_writes=read_your_writes,
        )
        return await self._send(call, SearchPage)

    async def iter_search_messages(
        self,
        *,
        q: str,
        limit: int | None = None,
        min_position: int | None = None,
        read_your_writes: bool | None = None,
        after: str | None = None,
    ) -> AsyncIterator[SearchHitOut]:
        """Every item of `search_messages`, page after page (from ``after``)."""
        while True:
            call = Call(
                "GET",
                "/v1/search/messages",
                query={"q": q, "after": after, "limit": limit, "min_position": min_position},
                read_your_writes=read_your_writes,
            )
            page = await self._send(call, SearchPage)
            for item in page.items:
                yield item
            after = page.next
            if after is None:
                return

    async def send_notification(
        self,
        user_id: str,
        *,
        kind: str,
        title: str,
        body: str | None = None,
        data: dict[str, JsonValue] | None = None,
        priority: Literal["high", "low", "normal", "urgent"] | None = None,
        idempotency_key: str | None = None,
        request_id: str | None = None,
        traceparent: str | None = None,
    ) -> Created:
        """Send a notification to one user: delivered live to the user's tokens, kept in the
        user's list until read.

        ``POST /v1/users/{user_id}/notifications`` (``sendNotification``)
        """
        call = Call(
            "POST",
            f"/v1/users/{_segment(user_id)}/notifications",
            body=SendNotification(
                kind=kind, title=title, **_given(body=body, data=data, priority=priority)
            ),
            headers={"X-Request-ID": request_id, "traceparent": traceparent},
            idempotency_key=idempotency_key,
            command=True,
        )
        return await self._send(call, Created)

    async def send_typing(
        self,
        conversation_id: str | UUID,
        *,
        user_id: str,
    ) -> Typing:
        """Tell the conversation's followers that a user is typing (for five seconds, unless
        sent again): the user a key names, or a user token's own user.

        ``POST /v1/conversations/{conversation_id}/typing`` (``sendTyping``)
        """
        call = Call(
            "POST",
            f"/v1/conversations/{_segment(conversation_id)}/typing",
            body=TypingBy(user_id=user_id),
        )
        return await self._send(call, Typing)

    async def start_conversation(
        self,
        *,
        title: str,
        participants: list[str] | None = None,
        idempotency_key: str | None = None,
        request_id: str | None = None,
        traceparent: str | None = None,
    ) -> Created:
        """Start a conversation.

        ``POST /v1/conversations`` (``startConversation``)
        """
        call = Call(
            "POST",
            "/v1/conversations",
            body=StartConversation(title=title, **_given(participants=participants)),
            headers={"X-Request-ID": request_id, "traceparent": traceparent},
            idempotency_key=idempotency_key,
            command=True,
        )
        return await self._send(call, Created)

    async def start_run(
        self,
        *,
        conversation_id: str,
        agent: str,
        model: str,
        input_message_id: str | None = None,
        document_id: str | None = None,
        idempotency_key: str | None = None,
        request_id: str | None = None,
        traceparent: str | None = None,
    ) -> Created:
        """Start an agent run in a conversation (agent_started), editing a shared document if
        it names one; ``429 budget-exceeded`` once the tenant has used its daily budget.

        ``POST /v1/runs`` (``startRun``)
        """
        call = Call(
            "POST",
            "/v1/runs",
            body=StartRun(
                conversation_id=conversation_id,
                agent=agent,
                model=model,
                **_given(input_message_id=input_message_id, document_id=document_id),
            ),
            headers={"X-Request-ID": request_id, "traceparent": traceparent},
            idempotency_key=idempotency_key,
            command=True,
        )
        return await self._send(call, Created)

    async def start_tool_call(
        self,
        run_id: str | UUID,
        *,
        call_id: str,
        tool: str,
        arguments: JsonValue | None = None,
        idempotency_key: str | None = None,
        request_id: str | None = None,
        traceparent: str | None = None,
    ) -> Changed:
        """A tool call starts (tool_executing).

        ``POST /v1/runs/{run_id}/tools`` (``startToolCall``)
        """
        call = Call(
            "POST",
            f"/v1/runs/{_segment(run_id)}/tools",
            body=ToolCall(call_id=call_id, tool=tool, **_given(arguments=arguments)),
            headers={"X-Request-ID": request_id, "traceparent": traceparent},
            idempotency_key=idempotency_key,
            command=True,
        )
        return await self._send(call, Changed)

    async def stream_delta(
        self,
        run_id: str | UUID,
        *,
        text: str,
    ) -> Buffered:
        """A token delta: published live, never stored; `complete` stores their concatenation.

        ``POST /v1/runs/{run_id}/deltas`` (``streamDelta``)
        """
        call = Call("POST", f"/v1/runs/{_segment(run_id)}/deltas", body=Delta(text=text))
        return await self._send(call, Buffered)

    async def submit_operation(
        self,
        document_id: str | UUID,
        *,
        base_revision: int,
        op: list[int | str | DeleteComponent],
        author: str | None = None,
        source: str | None = None,
        seq: int | None = None,
        run_id: str | None = None,
        idempotency_key: str | None = None,
        request_id: str | None = None,
        traceparent: str | None = None,
    ) -> AppliedOp:
        """Apply an op made on `base_revision`: transformed against every op committed since,
        appended, and answered as applied (`409` for a base ahead of the head or an archived
        document)

        ``POST /v1/documents/{document_id}/operations`` (``submitOperation``)
        """
        call = Call(
            "POST",
            f"/v1/documents/{_segment(document_id)}/operations",
            body=SubmitOperation(
                base_revision=base_revision,
                op=op,
                **_given(author=author, source=source, seq=seq, run_id=run_id),
            ),
            headers={"X-Request-ID": request_id, "traceparent": traceparent},
            idempotency_key=idempotency_key,
            command=True,
        )
        return await self._send(call, AppliedOp)

    async def submit_task(
        self,
        *,
        type: str,
        payload: JsonValue | None = None,
        priority: int | None = None,
        max_attempts: int | None = None,
        timeout_s: float | None = None,
        run_at: str | None = None,
        backoff_s: float | None = None,
        subject: str | None = None,
        idempotency_key: str | None = None,
        request_id: str | None = None,
        traceparent: str | None = None,
    ) -> Created:
        """Submit a task; it may be claimed from ``run_at`` on (now by default).

        ``POST /v1/tasks`` (``submitTask``)
        """
        call = Call(
            "POST",
            "/v1/tasks",
            body=Submit(
                type=type,
                **_given(
                    payload=payload,
                    priority=priority,
                    max_attempts=max_attempts,
                    timeout_s=timeout_s,
                    run_at=run_at,
                    backoff_s=backoff_s,
                    subject=subject,
                ),
            ),
            headers={"X-Request-ID": request_id, "traceparent": traceparent},
            idempotency_key=idempotency_key,
            command=True,
        )
        return await self._send(call, Created)

    async def update_alert_rule(
        self,
        rule_id: str | UUID,
        *,
        name: str,
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
        ],
        threshold: float,
        window_s: int,
        op: Literal["!=", "<", "<=", "==", ">", ">="],
        for_s: int | None = None,
        severity: Literal["critical", "info", "warning"] | None = None,
        labels: dict[str, str] | None = None,
        if_match: int | str | None = None,
        idempotency_key: str | None = None,
        request_id: str | None = None,
        traceparent: str | None = None,
    ) -> Changed:
        """Replace a rule's name and condition (an open alert carries on under it).

        ``PUT /v1/alert-rules/{rule_id}`` (``updateAlertRule``)
        """
        call = Call(
            "PUT",
            f"/v1/alert-rules/{_segment(rule_id)}",
            body=RuleBody(
                name=name,
                metric=metric,
                op=op,
                threshold=threshold,
                window_s=window_s,
                **_given(for_s=for_s, severity=severity, labels=labels),
            ),
            headers={"X-Request-ID": request_id, "traceparent": traceparent},
            if_match=if_match,
            idempotency_key=idempotency_key,
            command=True,
        )
        return await self._send(call, Changed)
