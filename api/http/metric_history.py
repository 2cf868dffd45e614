"""HTTP resources for the metrics history: current figures, a series, and the dashboard
(own tenant, from the ``metrics`` read model; no figure is computed from the log here).

An admin key of the ``_system`` tenant sees every tenant's figures together, and the
operator metrics (`infrastructure.system_samples`); anyone else naming an operator metric
is refused with 403 (the request is valid: the caller may not see that figure).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal, get_args

import anyio.to_thread
import msgspec
from litestar import Controller, Request, get
from litestar.di import NamedDependency
from litestar.params import QueryParameter
from litestar.response import Response

from api.http.auth import requires
from api.http.bodies import invalid
from api.http.fields import NO_NUL
from api.http.reads import READ_MODEL, MinPosition, ReadModels
from application.budgets import Budgets
from application.context import Principal
from application.errors import Forbidden
from domain.tenancy import SYSTEM_TENANT
from domain.values import in_utc
from infrastructure.metric_figures import DESCRIPTIONS, Figures, MetricFigures, Serieses
from infrastructure.read_models import Conn
from infrastructure.system_samples import OPERATOR_METRICS
from projections.metrics import minute_of

MetricName = Literal[
    "commands",
    "events",
    "messages",
    "runs_started",
    "runs_completed",
    "runs_failed",
    "runs_cancelled",
    "tokens_input",
    "tokens_output",
    "cost_usd",
    "tool_calls",
    "tool_duration_ms_p95",
    "tasks_submitted",
    "tasks_succeeded",
    "tasks_failed",
    "tasks_dead_lettered",
    "task_queue_latency_ms_p95",
    "budget_used_ratio",
    # operator metrics: an admin key of the _system tenant only
    "projection_lag_s",
    "relay_lag_events",
    "parked_events",
    "live_connections",
    "http_p95_ms",
    "store_available",
]
NAMES: tuple[str, ...] = get_args(MetricName)
TENANT_NAMES = tuple(name for name in NAMES if name not in OPERATOR_METRICS)
Step = Literal["1m", "5m", "1h", "1d"]
STEPS = {"1m": timedelta(minutes=1), "5m": timedelta(minutes=5)}
STEPS |= {"1h": timedelta(hours=1), "1d": timedelta(days=1)}
MAX_STEPS = 1440  # points in one series: a day of minutes, 60 days of hours
DEFAULT_WINDOW = timedelta(hours=1)
EARLIEST = datetime.min.replace(tzinfo=UTC)
ANY_NAME = "|".join(sorted(DESCRIPTIONS, key=len, reverse=True))
READ = [requires("read")]
Time = Annotated[datetime | None, QueryParameter(description="RFC 3339 time with its offset")]


class Point(msgspec.Struct):
    at: datetime
    value: float | None  # a percentile without samples


class Current(msgspec.Struct):
    name: str
    description: str
    last_24h: float | None
    this_minute: float | None


class CurrentMetrics(msgspec.Struct):
    at: datetime
    items: list[Current]


class Series(msgspec.Struct):
    name: str
    label: str | None
    step: str
    points: list[Point]


class Dashboard(msgspec.Struct):
    day: str
    today: dict[str, float | None]
    last_hour: dict[str, list[Point]]
    tasks: str  # the task dashboard


def _view(principal: Principal, budgets: Budgets) -> MetricFigures:
    """Whose figures the caller sees: an admin key of ``_system`` every tenant's and the
    operator metrics, anyone else (a ``_system`` key without admin too) its own tenant's."""
    if principal.tenant_id == SYSTEM_TENANT and "admin" in principal.scopes:
        return MetricFigures(None)
    return MetricFigures(principal.tenant_id, budgets.of(principal.tenant_id))


async def view_of(principal: Principal, budgets: Budgets) -> MetricFigures:
    return await anyio.to_thread.run_sync(_view, principal, budgets)


def _visible(view: MetricFigures) -> list[str]:
    return list(NAMES if view.tenant is None else TENANT_NAMES)


def _check(view: MetricFigures, field: str, names: list[str]) -> None:
    """403 naming ``field`` for an operator metric outside the operators' view."""
    hidden = [name for name in names if name in OPERATOR_METRICS]
    if hidden and view.tenant is not None:
        raise Forbidden(
            f"{field}: {hidden[0]!r} is an operator metric, for admin keys of the"
            f" {SYSTEM_TENANT!r} tenant"
        )


def _names(names: str | None, view: MetricFigures) -> list[str]:
    if names is None:
        return _visible(view)
    wanted = list(dict.fromkeys(names.split(",")))
    unknown = [name for name in wanted if name not in DESCRIPTIONS]
    if unknown:
        raise invalid("names", f"unknown metric {unknown[0]!r}", "query")
    _check(view, "names", wanted)
    return wanted


def _points(series: list[tuple[datetime, float | None]]) -> list[Point]:
    return [Point(at, value) for at, value in series]


def _range(
    start: datetime | None, end: datetime | None, step: timedelta
) -> tuple[datetime, datetime]:
    """The asked range in UTC, by default the hour before ``to`` (from year 1 at most)."""
    end = datetime.now(UTC) if end is None else in_utc("to", end)
    if start is None:
        start = EARLIEST if end - EARLIEST < DEFAULT_WINDOW else end - DEFAULT_WINDOW
    start = in_utc("from", start)
    if start > end:
        raise invalid("from", "must not be after `to`", "query")
    if end - start > step * MAX_STEPS:
        raise invalid("to", f"is more than {MAX_STEPS} steps after `from`", "query")
    return start, end


class MetricsHistoryController(Controller):
    path = "/v1/metrics"
    tags = ["metrics"]

    @get("/", guards=READ, operation_id="getCurrentMetrics", opt=READ_MODEL)
    async def current(
        self,
        request: Request[Principal, Any, Any],
        read_models: NamedDependency[ReadModels],
        budgets: NamedDependency[Budgets],
        names: Annotated[
            str | None,
            QueryParameter(
                max_length=1000,
                pattern=f"^(?:{ANY_NAME})(?:,(?:{ANY_NAME}))*$",
                description="Comma-separated metric names (default: all)",
            ),
        ] = None,
        min_position: MinPosition = None,
    ) -> Response[CurrentMetrics]:
        """Each metric's sum (or 95th percentile, null without samples; an operator
        metric's worst sample) over the last 24 hours (from the same minute yesterday) and
        over the current minute so far."""
        view = await view_of(request.user, budgets)
        wanted, now = _names(names, view), datetime.now(UTC)
        minute = minute_of(now)

        def figures(conn: Conn) -> tuple[Figures, Figures]:
            end = minute + timedelta(minutes=1)
            day = view.totals(conn, wanted, end - timedelta(days=1), end)
            return day, view.totals(conn, wanted, minute, end)

        (day, last), headers = await read_models.query(("metrics",), figures, min_position)
        items = [Current(n, DESCRIPTIONS[n], day[n], last[n]) for n in wanted]
        return Response(CurrentMetrics(now, items), headers=headers)

    @get("/history", guards=READ, operation_id="getMetricHistory", opt=READ_MODEL)
    async def history(
        self,
        request: Request[Principal, Any, Any],
        read_models: NamedDependency[ReadModels],
        budgets: NamedDependency[Budgets],
        name: Annotated[MetricName, QueryParameter(description="The metric")],
        label: Annotated[
            str | None,
            QueryParameter(max_length=200, pattern=NO_NUL, description="Only this label"),
        ] = None,
        start: Annotated[
            datetime | None,
            QueryParameter(name="from", description="RFC 3339 start (default: `to` - 1 h)"),
        ] = None,
        end: Annotated[
            datetime | None,
            QueryParameter(name="to", description="RFC 3339 end (default: now)"),
        ] = None,
        step: Annotated[Step, QueryParameter(description="Width of each point")] = "1m",
        min_position: MinPosition = None,
    ) -> Response[Series]:
        """The metric's sum (or 95th percentile) over each step from ``from`` to ``to`` (at
        most 1440 steps), over all labels unless ``label`` is given; steps without activity
        are 0 (a percentile null; an operator metric's worst sample, null without any).
        Steps of 1 h and 1 d are read from hour buckets (kept longer than minute buckets)."""
        view, width = await view_of(request.user, budgets), STEPS[step]
        _check(view, "name", [name])
        first, last = _range(start, end, width)
        series, headers = await read_models.query(
            ("metrics",),
            lambda conn: view.series(conn, [name], label, first, last, width),
            min_position,
        )
        return Response(Series(name, label, step, _points(series[name])), headers=headers)


class OverviewController(Controller):
    path = "/v1/dashboard"
    tags = ["metrics"]

    @get("/", guards=READ, operation_id="getDashboard", opt=READ_MODEL)
    async def overview(
        self,
        request: Request[Principal, Any, Any],
        read_models: NamedDependency[ReadModels],
        budgets: NamedDependency[Budgets],
        min_position: MinPosition = None,
    ) -> Response[Dashboard]:
        """Today's (UTC) totals of every metric and the last hour's series per minute of
        each (for an admin key of ``_system``: of every tenant, and the operator metrics);
        the task dashboard is at ``tasks``."""
        body, headers = await dashboard_of(request.user, read_models, budgets, min_position)
        return Response(body, headers=headers)


async def dashboard_of(
    principal: Principal, read_models: ReadModels, budgets: Budgets, min_position: int | None
) -> tuple[Dashboard, dict[str, str]]:
    """The dashboard a principal sees (also the web console's overview), and the headers
    saying how far its snapshot goes."""
    view, now = await view_of(principal, budgets), datetime.now(UTC)
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    end, names = minute_of(now) + timedelta(minutes=1), _visible(view)

    def figures(conn: Conn) -> tuple[Figures, Serieses]:
        today = view.totals(conn, names, midnight, end)
        hour = view.series(conn, names, None, end - timedelta(hours=1), end, STEPS["1m"])
        return today, hour

    (today, hour), headers = await read_models.query(("metrics",), figures, min_position)
    body = Dashboard(
        midnight.date().isoformat(),
        today,
        {name: _points(series) for name, series in hour.items()},
        "/v1/dashboard/tasks",
    )
    return body, headers
