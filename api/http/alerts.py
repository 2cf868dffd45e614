"""HTTP resources for alert rules and alerts (own tenant only): rules are read with `read`
and written with `admin`; an alert is acknowledged with `commands:write`, by the key's (or
user's) actor. Lists and single rules come from the ``alerts`` read model.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

import msgspec
from litestar import Controller, Request, delete, get, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.response import Response

from api.http.auth import requires
from api.http.commands import Changed, Created, answer
from api.http.fields import NO_NUL
from api.http.metric_history import MetricName
from api.http.reads import (
    READ_MODEL,
    After,
    IfNoneMatch,
    Limit,
    MinPosition,
    ReadModels,
    next_cursor_of,
    one,
    parse_cursor,
)
from application.alerts import Alerts, Condition
from application.context import CommandContext, Principal
from application.errors import NotFound
from domain.alerts import (
    FOR_MAX_S,
    LABEL,
    LABEL_VALUE_MAX_CHARS,
    LABELS_MAX,
    NAME_MAX_CHARS,
    NOTE_MAX_CHARS,
    THRESHOLD_MAX,
    WINDOW_MAX_S,
    WINDOW_MIN_S,
    Op,
    Severity,
)
from projections.alerts import AlertRow, RuleRow, get_rule, list_alerts, list_rules

READS = ("alerts",)
READ = [requires("read")]
ADMIN = [requires("admin")]
WRITE = [requires("commands:write")]
State = Literal["pending", "firing", "acknowledged", "resolved"]
LabelName = Annotated[str, msgspec.Meta(pattern=LABEL.pattern)]
LabelValue = Annotated[str, msgspec.Meta(max_length=LABEL_VALUE_MAX_CHARS, pattern=NO_NUL)]


class RuleBody(msgspec.Struct, forbid_unknown_fields=True):
    """A rule: ``metric op threshold`` over the last ``window_s`` seconds, held for
    ``for_s`` seconds before it fires."""

    name: Annotated[str, msgspec.Meta(min_length=1, max_length=NAME_MAX_CHARS, pattern=NO_NUL)]
    metric: MetricName  # one of GET /v1/metrics
    op: Op
    threshold: Annotated[float, msgspec.Meta(ge=-THRESHOLD_MAX, le=THRESHOLD_MAX)]
    window_s: Annotated[int, msgspec.Meta(ge=WINDOW_MIN_S, le=WINDOW_MAX_S)]
    for_s: Annotated[int, msgspec.Meta(ge=0, le=FOR_MAX_S)] = 0
    severity: Severity = "warning"
    labels: Annotated[dict[LabelName, LabelValue], msgspec.Meta(max_length=LABELS_MAX)] = {}

    def condition(self) -> Condition:
        return Condition(
            self.name,
            self.metric,
            self.op,
            self.threshold,
            self.window_s,
            self.for_s,
            self.severity,
            dict(self.labels),
        )


class Mute(msgspec.Struct, forbid_unknown_fields=True):
    until: Annotated[datetime, msgspec.Meta(tz=True, description="RFC 3339 time with its offset")]


class Acknowledge(msgspec.Struct, forbid_unknown_fields=True):
    note: Annotated[str, msgspec.Meta(max_length=NOTE_MAX_CHARS, pattern=NO_NUL)] = ""


class RulePage(msgspec.Struct):
    items: list[RuleRow]
    next: str | None


class AlertPage(msgspec.Struct):
    items: list[AlertRow]
    next: str | None


class AlertRulesController(Controller):
    path = "/v1/alert-rules"
    tags = ["alerts"]

    @post(
        "/",
        guards=ADMIN,
        status_code=201,
        operation_id="createAlertRule",
        opt={"command": "alert_rule.create"},
    )
    async def create(
        self,
        context: NamedDependency[CommandContext],
        alerts: NamedDependency[Alerts],
        data: JSONBody[RuleBody],
    ) -> Response[Created]:
        """Create a rule on one of the tenant's metrics (an unknown metric is a 400)."""
        result = await alerts.create(context, data.condition())
        location = f"/v1/alert-rules/{result.id}"
        return answer(Created.of(result), result, status_code=201, location=location)

    @get("/", guards=READ, operation_id="listAlertRules", opt=READ_MODEL)
    async def list_rules(
        self,
        request: Request[Principal, Any, Any],
        read_models: NamedDependency[ReadModels],
        after: After = None,
        limit: Limit = 50,
        min_position: MinPosition = None,
    ) -> Response[RulePage]:
        """The tenant's rules (not deleted), newest first."""
        tenant, cursor = request.user.tenant_id, parse_cursor(after)
        (rows, next_cursor), headers = await read_models.query(
            READS, lambda conn: list_rules(conn, tenant, cursor, limit), min_position
        )
        return Response(RulePage(rows, next_cursor_of(next_cursor)), headers=headers)

    @get("/{rule_id:uuid}", guards=READ, operation_id="getAlertRule", opt=READ_MODEL)
    async def get_one(
        self,
        request: Request[Principal, Any, Any],
        rule_id: FromPath[UUID],
        read_models: NamedDependency[ReadModels],
        min_position: MinPosition = None,
        if_none_match: IfNoneMatch = None,
    ) -> Response[RuleRow]:
        """One rule, with its version as ETag."""
        tenant = request.user.tenant_id
        row, headers = await read_models.query(
            READS, lambda conn: get_rule(conn, tenant, rule_id), min_position
        )
        if row is None:
            raise NotFound(f"alert rule {rule_id} not found")
        return one(row, row.version, headers, if_none_match)

    @put(
        "/{rule_id:uuid}",
        guards=ADMIN,
        status_code=200,
        operation_id="updateAlertRule",
        opt={"command": "alert_rule.update"},
    )
    async def update(
        self,
        rule_id: FromPath[UUID],
        context: NamedDependency[CommandContext],
        expected_version: NamedDependency[int | None],
        alerts: NamedDependency[Alerts],
        data: JSONBody[RuleBody],
    ) -> Response[Changed]:
        """Replace a rule's name and condition (an open alert carries on under it)."""
        result = await alerts.update(context, rule_id, data.condition(), expected_version)
        return answer(Changed.of(result), result)

    @post(
        "/{rule_id:uuid}/mute",
        guards=ADMIN,
        status_code=200,
        operation_id="muteAlertRule",
        opt={"command": "alert_rule.mute"},
    )
    async def mute(
        self,
        rule_id: FromPath[UUID],
        context: NamedDependency[CommandContext],
        expected_version: NamedDependency[int | None],
        alerts: NamedDependency[Alerts],
        data: JSONBody[Mute],
    ) -> Response[Changed]:
        """Open no alert of the rule before `until` (an open one carries on)."""
        result = await alerts.mute(context, rule_id, data.until, expected_version)
        return answer(Changed.of(result), result)

    @delete(
        "/{rule_id:uuid}",
        guards=ADMIN,
        status_code=200,
        operation_id="deleteAlertRule",
        opt={"command": "alert_rule.delete"},
    )
    async def delete_rule(
        self,
        rule_id: FromPath[UUID],
        context: NamedDependency[CommandContext],
        expected_version: NamedDependency[int | None],
        alerts: NamedDependency[Alerts],
    ) -> Response[Changed]:
        """Delete a rule: it opens no alert again and its open alert resolves."""
        result = await alerts.delete(context, rule_id, expected_version)
        return answer(Changed.of(result), result)


class AlertsController(Controller):
    path = "/v1/alerts"
    tags = ["alerts"]

    @get("/", guards=READ, operation_id="listAlerts", opt=READ_MODEL)
    async def list_alerts(
        self,
        request: Request[Principal, Any, Any],
        read_models: NamedDependency[ReadModels],
        in_state: Annotated[
            State | None, QueryParameter(name="state", description="Only alerts in this state")
        ] = None,
        after: After = None,
        limit: Limit = 50,
        min_position: MinPosition = None,
    ) -> Response[AlertPage]:
        """The tenant's alerts, newest first."""
        tenant, cursor = request.user.tenant_id, parse_cursor(after)
        (rows, next_cursor), headers = await read_models.query(
            READS, lambda conn: list_alerts(conn, tenant, in_state, cursor, limit), min_position
        )
        return Response(AlertPage(rows, next_cursor_of(next_cursor)), headers=headers)

    @post(
        "/{alert_id:uuid}/acknowledge",
        guards=WRITE,
        status_code=200,
        operation_id="acknowledgeAlert",
        opt={"command": "alert.acknowledge"},
    )
    async def acknowledge(
        self,
        alert_id: FromPath[UUID],
        context: NamedDependency[CommandContext],
        alerts: NamedDependency[Alerts],
        data: JSONBody[Acknowledge],
    ) -> Response[Changed]:
        """Acknowledge a firing alert, as the caller (`409` unless it is firing)."""
        result = await alerts.acknowledge(context, alert_id, data.note)
        return answer(Changed.of(result), result)
