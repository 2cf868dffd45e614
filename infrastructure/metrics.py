"""The Prometheus metrics a process counts as it works, defined in one place, and the
multiprocess directory that lets several API processes sum them.

Counting only: nothing here reads a server. What /metrics reads from PostgreSQL when it is
scraped is in `infrastructure/backlogs.py` and `api/http/metrics.py`.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Protocol

from prometheus_client import Counter, Gauge, Histogram, multiprocess

from application.ports import RunSteps
from domain.agent_run import AgentRun
from infrastructure.supervisor import process_exists

MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"
LIVE_GAUGE_FILE = re.compile(r"^gauge_live\w*?_(\d+)\.db$")
MODELS_PER_PROCESS = 50  # distinct `model` labels a process keeps; later ones count as "other"
OTHER_MODEL = "other"

EVENTS_APPENDED = Counter(
    "chronicle_events_appended_total",
    "Events committed to the log, by the kind of aggregate that recorded them and their type",
    ["category", "type"],
)
BATCH_COMMANDS = Histogram(
    "chronicle_group_commit_batch_commands",
    "Commands written together in one group commit (one transaction)",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 500),
)
BATCH_SECONDS = Histogram(
    "chronicle_group_commit_duration_seconds",
    "Time to write and commit one group commit's batch (one call of the append function)",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0),
)
COMMANDS = Counter(
    "chronicle_commands_total",
    "Commands answered over HTTP, by command and outcome",
    ["command", "outcome"],
)
LIVE_CONNECTIONS = Gauge(
    "chronicle_live_connections",
    "Live streams open now, by transport",
    ["transport"],
    multiprocess_mode="livesum",
)
LIVE_DELIVERED = Counter(
    "chronicle_live_events_delivered_total",
    "Events sent to live clients (replayed or live; token deltas included), by transport",
    ["transport"],
)
LIVE_REFUSED = Counter(
    "chronicle_live_connections_refused_total",
    "Live connections refused at a cap (per tenant, per API key, per user) or closed for"
    " sending frames too fast, by reason",
    ["reason"],
)
LIVE_RESYNCS = Counter(
    "chronicle_live_resyncs_total",
    "Live clients that fell a buffer behind and were told to resync and let go (slow"
    " clients dropped), by transport",
    ["transport"],
)
RATE_LIMIT_REFUSALS = Counter(
    "chronicle_rate_limit_refusals_total",
    "Requests refused with 429, by the limit: a key's requests per minute, or a tenant's"
    " daily budget",
    ["limit"],
)
RUN_TOKENS = Counter(
    "chronicle_run_tokens_total",
    "Tokens agent runs reported when they completed, by model and kind (input, output)",
    ["model", "kind"],
)
RUN_COST = Counter(
    "chronicle_run_cost_usd_total",
    "Cost in US dollars agent runs reported when they completed, by model",
    ["model"],
)

# The outcome of a command by its answer's status: a small closed set.
OUTCOMES = {
    400: "invalid",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    409: "conflict",
    412: "precondition_failed",
    413: "invalid",
    415: "invalid",
    422: "invalid",
    429: "rate_limited",
    503: "unavailable",
}


def outcome_of(status: int) -> str:
    """``ok``, one of `OUTCOMES`, or ``error`` (any other status)."""
    if 200 <= status < 300:
        return "ok"
    return OUTCOMES.get(status, "error")


@cache
def category_and_type(topic: str) -> tuple[str, str]:
    """``("api_key", "Revoked")`` for ``domain.identity:ApiKey.Revoked``: the aggregate's
    class in snake case, and the event's class."""
    qualname = topic.rpartition(":")[2]
    aggregate, _, event_type = qualname.rpartition(".")
    return re.sub(r"(?<!^)(?=[A-Z])", "_", aggregate).lower() or "unknown", event_type


class Commit(Protocol):
    """A command's events as the group commit writes them (each with its ``topic``)."""

    @property
    def events(self) -> Sequence[Any]: ...


def record_batch(commits: Sequence[Commit], outcomes: Sequence[object], seconds: float) -> None:
    """One batch written in ``seconds``, and the events of each commit it stored (an
    outcome that is a list of positions; a refused commit appended nothing), counted by
    topic first: one increment per topic of a batch, not one per event."""
    BATCH_COMMANDS.observe(len(commits))
    BATCH_SECONDS.observe(seconds)
    counts: dict[str, int] = {}
    for commit, outcome in zip(commits, outcomes, strict=True):
        if isinstance(outcome, list):
            for event in commit.events:
                counts[event.topic] = counts.get(event.topic, 0) + 1
    for topic, count in counts.items():
        appended(topic).inc(count)


@cache
def appended(topic: str) -> Counter:
    """The events-appended counter of one topic's category and type, bound once."""
    return EVENTS_APPENDED.labels(*category_and_type(topic))


@dataclass(frozen=True)
class LiveCounters:
    """The live metrics of one transport, bound once (a label lookup per event is waste)."""

    connections: Gauge
    delivered: Counter
    resyncs: Counter

    @classmethod
    def of(cls, transport: str) -> LiveCounters:
        return cls(
            LIVE_CONNECTIONS.labels(transport),
            LIVE_DELIVERED.labels(transport),
            LIVE_RESYNCS.labels(transport),
        )


class ModelNames:
    """Bounds the ``model`` label: a client names its model freely, so each process keeps
    the first `MODELS_PER_PROCESS` names it sees and counts the rest as ``other``."""

    def __init__(self, limit: int = MODELS_PER_PROCESS) -> None:
        self._limit = limit
        self._seen: set[str] = set()

    def label(self, model: str) -> str:
        if model in self._seen:
            return model
        if len(self._seen) >= self._limit:
            return OTHER_MODEL
        self._seen.add(model)
        return model


MODELS = ModelNames()


class RunUsage:
    """A `RunSteps` observer: counts each completed run's tokens and cost by model, then
    tells ``then`` (the run's spans, when traced) of every step.

    Counted as the run's completion commits (never for a replay), in the process that
    committed it: the counters sum over API processes and start again from zero with a
    process, as Prometheus counters do. Totals read from the usage read model at scrape
    would need a scan of the runs for the model and would drop to zero and climb again
    during a rebuild, which ``rate()`` would read as a burst of spending.
    """

    def __init__(self, then: RunSteps | None = None) -> None:
        self._then = then

    async def recorded(self, run: AgentRun, step: str, details: Mapping[str, Any]) -> None:
        if step == "completed":
            usage = details.get("usage") or {}
            label = MODELS.label(run.model)
            RUN_TOKENS.labels(label, "input").inc(int(usage.get("input_tokens", 0)))
            RUN_TOKENS.labels(label, "output").inc(int(usage.get("output_tokens", 0)))
            RUN_COST.labels(label).inc(float(usage.get("cost_usd", 0)))
        if self._then is not None:
            await self._then.recorded(run, step, details)


def multiprocess_enabled() -> bool:
    """Whether this process writes its metrics to a directory shared with others."""
    return bool(os.environ.get(MULTIPROCESS_DIR))


@contextlib.contextmanager
def multiprocess_directory() -> Iterator[Path]:
    """A fresh directory named by ``PROMETHEUS_MULTIPROC_DIR`` while inside, for the
    worker processes started there to count their metrics in; removed at the end. One
    named already is replaced: its files may be another run's."""
    before = os.environ.get(MULTIPROCESS_DIR)
    with tempfile.TemporaryDirectory(prefix="chronicle-metrics-") as directory:
        os.environ[MULTIPROCESS_DIR] = directory
        try:
            yield Path(directory)
        finally:
            if before is None:
                del os.environ[MULTIPROCESS_DIR]
            else:
                os.environ[MULTIPROCESS_DIR] = before


def forget_process(pid: int) -> None:
    """Drop the live gauges of a process that has ended, so ``livesum`` counts only the
    processes that run; its counters stay in the sums."""
    directory = os.environ.get(MULTIPROCESS_DIR)
    if directory:
        multiprocess.mark_process_dead(pid, directory)  # type: ignore[no-untyped-call]


def forget_this_process() -> None:
    """`forget_process` for this one, as it stops."""
    forget_process(os.getpid())


def forget_dead_processes() -> None:
    """`forget_process` for each process whose live gauges remain but which no longer
    runs: a worker killed (not stopped) had no chance to do it itself."""
    directory = os.environ.get(MULTIPROCESS_DIR)
    if not directory:
        return
    pids = {
        int(m.group(1)) for p in Path(directory).iterdir() if (m := LIVE_GAUGE_FILE.match(p.name))
    }
    for pid in pids:
        if not process_exists(pid):
            forget_process(pid)
