"""Which aggregates a tenant owns: those whose created event names it."""

from __future__ import annotations

from datetime import UTC, datetime

from domain.agent_run import AgentRun
from domain.alerts import AlertRule
from domain.audit import AccessDenial
from domain.conversation import Conversation
from domain.document import Document
from domain.identity import ApiKey, Tenant
from domain.ids import new_id
from domain.projection_log import ProjectionLog
from domain.task import Task
from domain.tenancy import TenantOwned


def test_conversations_documents_runs_tasks_and_keys_are_owned_by_their_makers_tenant() -> None:
    owned = [
        Conversation.start("acme", "Plan", []),
        Document.create("acme", "Notes"),
        AgentRun.begin("acme", new_id(), "planner", "m", None),
        Task.submit("acme", "email", {}, 1, 3, 30.0, datetime.now(UTC), 1.0),
        ApiKey.issue("acme", "ci", ["read"], "0" * 64),
        AlertRule.create("acme", "runs failing", "runs_failed", ">=", 2, 300),
    ]
    for aggregate in owned:
        assert isinstance(aggregate, TenantOwned), aggregate
        assert aggregate.tenant_id == "acme"


def test_tenants_denials_and_projection_logs_belong_to_their_commands_tenant_instead() -> None:
    for kind in (Tenant, AccessDenial, ProjectionLog):
        assert not issubclass(kind, TenantOwned), kind
