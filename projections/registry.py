"""Every projection Chronicle runs, by name."""

from __future__ import annotations

from projections.alerts import AlertsProjection
from projections.audit import AuditProjection
from projections.base import Projection
from projections.conversations import ConversationsProjection
from projections.documents import DocumentsProjection
from projections.message_search import MessageSearchProjection
from projections.messages import MessagesProjection
from projections.metrics import MetricsProjection
from projections.notifications import NotificationsProjection
from projections.runs import RunsProjection
from projections.tasks import TasksProjection
from projections.usage import UsageProjection

PROJECTIONS: dict[str, Projection] = {
    p.name: p
    for p in (
        ConversationsProjection(),
        MessagesProjection(),
        MessageSearchProjection(),
        RunsProjection(),
        TasksProjection(),
        AuditProjection(),
        UsageProjection(),
        NotificationsProjection(),
        DocumentsProjection(),
        MetricsProjection(),
        AlertsProjection(),
    )
}
