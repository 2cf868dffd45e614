"""The console's operations pages: the task queue (cancel a task) and alerts (acknowledge
one). Each form posts back with its CSRF token and runs the use case the ``/v1`` command
runs, under the same command name, so the audit trail shows it as any other command.
"""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter
from litestar.response import Redirect, Template

from api.http.console.pages import PAGE_SIZE, Cursor
from api.http.console.render import page
from api.http.console.viewer import SCOPE, Viewer
from api.http.reads import ReadModels, parse_cursor
from application.alerts import Alerts
from application.context import CommandContext
from application.errors import ApplicationError
from application.tasks import Tasks
from domain.errors import DomainError
from infrastructure.read_models import Conn
from projections.alerts import AlertRow, list_alerts
from projections.tasks import list_tasks, task_dashboard

NOTE_MAX_CHARS = 500
DEAD_SHOWN = 20
Page = tuple[list[dict[str, Any]], int | None]
TaskStateFilter = Annotated[
    str | None,
    QueryParameter(name="state", pattern=r"^(|pending|running|succeeded|failed|cancelled|dead)$"),
]
AlertStateFilter = Annotated[
    str | None,
    QueryParameter(name="state", pattern=r"^(|pending|firing|acknowledged|resolved)$"),
]


def _form_text(form: Any, name: str, limit: int) -> str:
    return str(form.get(name) or "").replace("\x00", "")[:limit]


async def _outcome(run: Any) -> str | None:
    """Run a command; a refusal of the domain or the application, as a sentence."""
    try:
        await run
    except (DomainError, ApplicationError) as error:
        return str(error)
    return None


class ActionsController(Controller):
    path = "/console"

    @get("/tasks", opt={SCOPE: "read"})
    async def tasks(
        self,
        viewer: NamedDependency[Viewer],
        read_models: NamedDependency[ReadModels],
        shown_state: TaskStateFilter = None,
        after: Cursor = None,
        error: Annotated[str | None, QueryParameter(max_length=500)] = None,
    ) -> Template:
        """Counts by state, queue depth by type, the dead letters, and the tasks."""
        tenant, cursor = viewer.principal.tenant_id, parse_cursor(after)

        def read(conn: Conn) -> tuple[dict[str, Any], list[dict[str, Any]], Page]:
            dead, _ = list_tasks(conn, tenant, "dead", None, None, DEAD_SHOWN)
            listed = list_tasks(conn, tenant, shown_state or None, None, cursor, PAGE_SIZE)
            return task_dashboard(conn, tenant), dead, listed

        (figures, dead, (rows, next_cursor)), _ = await read_models.query(("tasks",), read, None)
        return page(
            viewer,
            "tasks.html",
            "Tasks",
            figures=figures,
            dead=dead,
            rows=rows,
            next=next_cursor,
            state=shown_state or "",
            error=error,
        )

    @post("/tasks/{task_id:uuid}/cancel", opt={SCOPE: "commands:write"}, status_code=303)
    async def cancel_task(
        self,
        request: Request[Any, Any, Any],
        viewer: NamedDependency[Viewer],
        tasks: NamedDependency[Tasks],
        task_id: FromPath[UUID],
    ) -> Redirect:
        """Cancel a pending or running task (``task.cancel``)."""
        form = await request.form()
        context = CommandContext.for_principal(viewer.principal, "task.cancel")
        reason = _form_text(form, "reason", NOTE_MAX_CHARS) or "cancelled from the console"
        refused = await _outcome(tasks.cancel(context, task_id, reason))
        return _back("/console/tasks", refused)

    @post("/tasks/{task_id:uuid}/retry", opt={SCOPE: "commands:write"}, status_code=303)
    async def retry_task(
        self,
        viewer: NamedDependency[Viewer],
        tasks: NamedDependency[Tasks],
        task_id: FromPath[UUID],
    ) -> Redirect:
        """Give a dead letter one more attempt, now (``task.retry``)."""
        context = CommandContext.for_principal(viewer.principal, "task.retry")
        return _back("/console/tasks", await _outcome(tasks.retry(context, task_id)))

    @get("/alerts", opt={SCOPE: "read"})
    async def alerts(
        self,
        viewer: NamedDependency[Viewer],
        read_models: NamedDependency[ReadModels],
        shown_state: AlertStateFilter = None,
        after: Cursor = None,
        error: Annotated[str | None, QueryParameter(max_length=500)] = None,
    ) -> Template:
        """The tenant's alerts, newest first; a firing one can be acknowledged."""
        tenant, cursor = viewer.principal.tenant_id, parse_cursor(after)
        (rows, next_cursor), _ = await read_models.query(
            ("alerts",),
            lambda conn: list_alerts(conn, tenant, shown_state or None, cursor, PAGE_SIZE),
            None,
        )
        shown: list[AlertRow] = rows
        return page(
            viewer,
            "alerts.html",
            "Alerts",
            rows=shown,
            next=next_cursor,
            state=shown_state or "",
            error=error,
        )

    @post("/alerts/{alert_id:uuid}/acknowledge", opt={SCOPE: "commands:write"}, status_code=303)
    async def acknowledge(
        self,
        request: Request[Any, Any, Any],
        viewer: NamedDependency[Viewer],
        alerts: NamedDependency[Alerts],
        alert_id: FromPath[UUID],
    ) -> Redirect:
        """Acknowledge a firing alert (``alert.acknowledge``), with an optional note."""
        form = await request.form()
        context = CommandContext.for_principal(viewer.principal, "alert.acknowledge")
        note = _form_text(form, "note", NOTE_MAX_CHARS)
        refused = await _outcome(alerts.acknowledge(context, alert_id, note))
        return _back("/console/alerts", refused)


def _back(path: str, refused: str | None) -> Redirect:
    """Back to the page the form was on, saying why the command was refused, if it was."""
    if refused is None:
        return Redirect(path, status_code=303)
    return Redirect(path, status_code=303, query_params={"error": refused[:500]})
