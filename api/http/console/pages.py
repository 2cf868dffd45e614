"""The console's read pages: the overview, conversations, the live tail and the audit trail.

Each reads what the matching `/v1` query reads (the same read-model functions), as the
signed-in key's tenant; a page's scope is its route's ``opt["scope"]``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID

from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter
from litestar.response import Template

from api.bootstrap import Container
from api.http.console.render import page
from api.http.console.viewer import SCOPE, Viewer
from api.http.health import projection_statuses
from api.http.metric_history import dashboard_of
from api.http.reads import POSITION_HEADER, ReadModels, parse_cursor
from application.budgets import Budgets
from application.errors import NotFound
from infrastructure.live_hub import Filter, InvalidFilter
from infrastructure.read_models import Conn
from projections.alerts import list_alerts
from projections.audit import AuditQuery, audit_entries
from projections.conversations import ConversationRow, get_conversation, list_conversations
from projections.messages import MessageRow, latest_messages
from projections.runs import conversation_runs

PAGE_SIZE = 50
HISTORY_LIMIT = 500
Text = Annotated[str | None, QueryParameter(max_length=200, pattern=r"^[^\x00]*$")]
EventType = Annotated[
    str | None, QueryParameter(name="type", max_length=200, pattern=r"^[^\x00]*$")
]
Cursor = Annotated[str | None, QueryParameter(max_length=18, pattern=r"^[0-9]*$")]
# Tiles of the overview: (metric, label); a metric the viewer does not see is left out.
TILES = (
    ("messages", "Messages"),
    ("runs_started", "Agent runs"),
    ("tool_calls", "Tool calls"),
    ("tokens_input", "Tokens in"),
    ("tokens_output", "Tokens out"),
    ("cost_usd", "Cost (USD)"),
    ("tasks_submitted", "Tasks submitted"),
    ("tasks_dead_lettered", "Dead letters"),
    ("events", "Events"),
)


async def overview_of(
    viewer: Viewer,
    container: Container,
    read_models: ReadModels,
    budgets: Budgets,
    min_position: int | None,
) -> dict[str, Any]:
    """What the overview shows: today's totals and the last hour of each (the dashboard
    of ``/v1/dashboard``), the alerts firing, and each projection's state."""
    dashboard, _ = await dashboard_of(viewer.principal, read_models, budgets, min_position)
    tenant = viewer.principal.tenant_id
    (firing, _), _ = await read_models.query(
        ("alerts",), lambda conn: list_alerts(conn, tenant, "firing", None, PAGE_SIZE), None
    )
    tiles = [
        (label, dashboard.today[name], [p.value for p in dashboard.last_hour[name]])
        for name, label in TILES
        if name in dashboard.today
    ]
    return {
        "day": dashboard.day,
        "tiles": tiles,
        "firing": firing,
        "projections": await projection_statuses(container) or [],
    }


def _time(field: str, raw: str | None, errors: list[str]) -> datetime | None:
    """A time from a form field (``datetime-local`` gives none of its offset: UTC)."""
    if not raw:
        return None
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        errors.append(f"{field}: not a date and time")
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class PagesController(Controller):
    path = "/console"

    @get("/", opt={SCOPE: "read"})
    async def overview(
        self,
        viewer: NamedDependency[Viewer],
        container: NamedDependency[Container],
        read_models: NamedDependency[ReadModels],
        budgets: NamedDependency[Budgets],
    ) -> Template:
        """Today's totals with the last hour's curve, alerts firing, projection lag; kept
        up to date by its stream."""
        context = await overview_of(viewer, container, read_models, budgets, None)
        return page(viewer, "overview.html", "Overview", **context)

    @get("/conversations", opt={SCOPE: "read"})
    async def conversations(
        self,
        viewer: NamedDependency[Viewer],
        read_models: NamedDependency[ReadModels],
        after: Cursor = None,
    ) -> Template:
        """The tenant's conversations, newest first, a page at a time."""
        tenant, cursor = viewer.principal.tenant_id, parse_cursor(after)
        (rows, next_cursor), _ = await read_models.query(
            ("conversations",),
            lambda conn: list_conversations(conn, tenant, cursor, PAGE_SIZE),
            None,
        )
        return page(viewer, "conversations.html", "Conversations", rows=rows, next=next_cursor)

    @get("/conversations/{conversation_id:uuid}", opt={SCOPE: "read"})
    async def conversation(
        self,
        viewer: NamedDependency[Viewer],
        read_models: NamedDependency[ReadModels],
        conversation_id: FromPath[UUID],
    ) -> Template:
        """One conversation and its latest messages; new ones arrive over the page's
        stream, which resumes after the last message shown (or the snapshot's position)."""
        tenant = viewer.principal.tenant_id

        def read(conn: Conn) -> tuple[ConversationRow, list[MessageRow], list[Any]] | None:
            found = get_conversation(conn, tenant, conversation_id)
            if found is None:
                return None
            messages = latest_messages(conn, tenant, conversation_id, HISTORY_LIMIT)
            runs, _ = conversation_runs(conn, tenant, conversation_id, None, PAGE_SIZE)
            return found, messages, runs

        found, headers = await read_models.query(("conversations", "messages"), read, None)
        if found is None:
            raise NotFound(f"conversation {conversation_id} not found")
        conversation, messages, runs = found
        position = int(headers[POSITION_HEADER])
        after = max([position, *(m.position for m in messages)])
        return page(
            viewer,
            "conversation.html",
            conversation.title or "Conversation",
            conversation=conversation,
            messages=messages,
            runs=runs,
            after=after,
        )

    @get("/live", opt={SCOPE: "live:read"})
    async def live(
        self,
        viewer: NamedDependency[Viewer],
        subjects: Text = None,
        event_type: EventType = None,
    ) -> Template:
        """The event tail, from now, filtered by subject and type, following live."""
        error = None
        try:
            for text in filters_of(subjects, event_type):
                Filter.parse(text)
        except InvalidFilter as invalid:
            error = str(invalid)
        return page(
            viewer,
            "live.html",
            "Live",
            subjects=subjects or "",
            type=event_type or "",
            error=error,
            status_code=200 if error is None else 400,
        )

    @get("/audit", opt={SCOPE: "audit:read"})
    async def audit(
        self,
        viewer: NamedDependency[Viewer],
        read_models: NamedDependency[ReadModels],
        actor: Text = None,
        action: Text = None,
        target: Text = None,
        since: Text = None,
        until: Text = None,
        after: Cursor = None,
    ) -> Template:
        """The audit trail, oldest first, searched by actor, action, target and time."""
        errors: list[str] = []
        query = AuditQuery(
            viewer.principal.tenant_id,
            actor or None,
            action or None,
            target or None,
            _time("since", since, errors),
            _time("until", until, errors),
        )
        cursor = parse_cursor(after)
        (rows, next_cursor), _ = await read_models.query(
            ("audit",), lambda conn: audit_entries(conn, query, cursor, PAGE_SIZE), None
        )
        search = {"actor": actor, "action": action, "target": target}
        search |= {"since": since, "until": until}
        return page(
            viewer,
            "audit.html",
            "Audit",
            rows=rows,
            next=next_cursor,
            search={k: v or "" for k, v in search.items()},
            errors=errors,
            status_code=400 if errors else 200,
        )


def filters_of(subjects: str | None, event_type: str | None) -> list[str]:
    """The live filters of the tail's form: each subject, narrowed to the type if given."""
    wanted = [s.strip() for s in (subjects or "").split(",") if s.strip()]
    if not event_type:
        return wanted
    if not wanted:
        return [event_type.strip()]
    return [_with_type(s, event_type.strip()) for s in wanted]


def _with_type(subject: str, event_type: str) -> str:
    parts = subject.split(".")
    if parts[0] not in ("conversation", "run", "task", "document", "audit", "alert"):
        return subject  # an event type already
    parts += ["*"] * (2 - len(parts))
    return ".".join([*parts[:2], event_type])
