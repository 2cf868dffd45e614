"""Spans that cost a traced process a record, not an SDK span: an implementation of the
OpenTelemetry *API* (`Tracer`, `Span`) that samples as the SDK's sampler says and, when a
span ends, queues a `SpanRecord` in an outbox.

The SDK's own span costs more than a whole untraced command (its attribute checks, locks
and span processors, then the OTLP encoding in a thread that holds the same GIL), so a
traced process only records; its outbox ships the records to an exporter process
(`ExporterProcess`), where the SDK checks, batches, encodes and exports them. Tests hand
records to SDK span processors in-process instead (`ProcessorOutbox`).
"""

from __future__ import annotations

import atexit
import logging
import subprocess
import sys
import threading
import traceback
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from time import time_ns
from types import TracebackType
from typing import IO, Protocol

from opentelemetry import context as context_api
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.trace import SpanProcessor
from opentelemetry.sdk.trace.id_generator import RandomIdGenerator
from opentelemetry.sdk.trace.sampling import ALWAYS_ON, Decision, ParentBased, Sampler
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags
from opentelemetry.util import types

from infrastructure.span_records import (
    ENCODER,
    EventRecord,
    Readable,
    SpanRecord,
    link_record,
)

log = logging.getLogger(__name__)
_IDS = RandomIdGenerator()
_SAMPLED = TraceFlags(TraceFlags.SAMPLED)
_SAMPLING = (Decision.RECORD_AND_SAMPLE,)
_OK = StatusCode.OK.value


class Outbox(Protocol):
    def add(self, record: SpanRecord) -> None: ...
    def flush(self) -> None: ...
    def shutdown(self) -> None: ...


class RecordedSpan(trace.Span):
    """A sampled span, filling in its `SpanRecord`; on `end` the record goes to its
    tracer's outbox."""

    __slots__ = ("_context", "_links", "_outbox", "_record", "_record_exception", "_set_status")

    def __init__(
        self,
        outbox: Outbox,
        record: SpanRecord,
        context: SpanContext,
        links: Sequence[Link] | None,
        record_exception: bool,
        set_status_on_exception: bool,
    ) -> None:
        self._outbox = outbox
        self._record = record
        self._context = context
        self._links = list(links) if links else None
        self._record_exception = record_exception
        self._set_status = set_status_on_exception

    def traceparent(self) -> str:
        """The W3C ``traceparent`` naming this (sampled) span."""
        return f"00-{self._record.trace_id:032x}-{self._record.span_id:016x}-01"

    def get_span_context(self) -> SpanContext:
        return self._context

    def is_recording(self) -> bool:
        return not self._record.end

    def set_attribute(self, key: str, value: types.AttributeValue) -> None:
        if not self._record.end:
            self._record.attributes[key] = value

    def set_attributes(self, attributes: Mapping[str, types.AttributeValue]) -> None:
        if not self._record.end:
            self._record.attributes.update(attributes)

    def add_event(
        self, name: str, attributes: types.Attributes = None, timestamp: int | None = None
    ) -> None:
        record = self._record
        if record.end:
            return
        if record.events is None:
            record.events = []
        record.events.append(
            EventRecord(name, timestamp or time_ns(), dict(attributes) if attributes else None)
        )

    def add_link(self, context: SpanContext, attributes: types.Attributes = None) -> None:
        if not self._record.end and context.is_valid:
            if self._links is None:
                self._links = []
            self._links.append(Link(context, attributes))

    def update_name(self, name: str) -> None:
        if not self._record.end:
            self._record.name = name

    def set_status(self, status: Status | StatusCode, description: str | None = None) -> None:
        # As the SDK: OK is final, and UNSET changes nothing.
        if isinstance(status, Status):
            code, description = status.status_code, status.description
        else:
            code = status
        record = self._record
        if record.end or record.status == _OK or code is StatusCode.UNSET:
            return
        record.status, record.description = code._value_, description

    def record_exception(
        self,
        exception: BaseException,
        attributes: types.Attributes = None,
        timestamp: int | None = None,
        escaped: bool = False,
    ) -> None:
        module, qualname = type(exception).__module__, type(exception).__qualname__
        recorded: dict[str, types.AttributeValue] = {
            "exception.type": qualname if module in ("", "builtins") else f"{module}.{qualname}",
            "exception.message": str(exception),
            "exception.stacktrace": "".join(traceback.format_exception(exception)),
            "exception.escaped": str(escaped),
        }
        self.add_event("exception", recorded | dict(attributes or {}), timestamp)

    def end(self, end_time: int | None = None) -> None:
        record = self._record
        if record.end:
            return
        record.end = end_time or time_ns()
        if self._links:
            record.links = [link_record(link) for link in self._links]
        self._outbox.add(record)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_val: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> None:
        if exc_val is not None and not self._record.end:
            if self._record_exception:
                self.record_exception(exc_val, escaped=True)
            if self._set_status:
                self.set_status(StatusCode.ERROR, f"{type(exc_val).__name__}: {exc_val}")
        self.end()


class CurrentSpan:
    """``span`` as the current span of a block, then ended, with `use_span`'s handling of
    an exception (recorded, and the status an error). A class: `start_as_current_span` as
    the API writes it nests three generators per span."""

    __slots__ = ("_end_on_exit", "_record_exception", "_set_status", "_span", "_token")

    def __init__(
        self,
        span: trace.Span,
        end_on_exit: bool = True,
        record_exception: bool = True,
        set_status_on_exception: bool = True,
    ) -> None:
        self._span = span
        self._end_on_exit = end_on_exit
        self._record_exception = record_exception
        self._set_status = set_status_on_exception

    def __enter__(self) -> trace.Span:
        self._token = context_api.attach(trace.set_span_in_context(self._span))
        return self._span

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_val: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> None:
        span = self._span
        try:
            if isinstance(exc_val, Exception) and span.is_recording():
                if self._record_exception:
                    span.record_exception(exc_val)
                if self._set_status:
                    span.set_status(StatusCode.ERROR, f"{type(exc_val).__name__}: {exc_val}")
        finally:
            context_api.detach(self._token)
            if self._end_on_exit:
                span.end()


def _always(parent: SpanContext | None) -> bool:
    return True


def _as_parent(parent: SpanContext | None) -> bool:
    return parent is None or parent.trace_flags.sampled


_PARENT_BASED_ALWAYS_ON = ParentBased(ALWAYS_ON).get_description()  # type: ignore[no-untyped-call]


class RecordingTracer(trace.Tracer):
    """A role's tracer: the SDK's sampler decides, a `RecordedSpan` records."""

    def __init__(self, role: str, sampler: Sampler, outbox: Outbox) -> None:
        self.role = role
        self.sampler = sampler
        self.outbox = outbox
        # The default samplers decide without a call (and the SamplingResult it builds).
        described = sampler.get_description()
        self._decide: Callable[[SpanContext | None], bool] | None = (
            _always
            if described == ALWAYS_ON.get_description()
            else _as_parent
            if described == _PARENT_BASED_ALWAYS_ON
            else None
        )

    def start_span(
        self,
        name: str,
        context: Context | None = None,
        kind: SpanKind = SpanKind.INTERNAL,
        attributes: types.Attributes = None,
        links: Sequence[Link] | None = None,
        start_time: int | None = None,
        record_exception: bool = True,
        set_status_on_exception: bool = True,
    ) -> trace.Span:
        parent: SpanContext | None = trace.get_current_span(context).get_span_context()
        if parent is not None and parent.is_valid:
            trace_id, parent_id, remote = parent.trace_id, parent.span_id, parent.is_remote
        else:
            parent, trace_id, parent_id, remote = None, _IDS.generate_trace_id(), 0, False
        if self._decide is not None:
            sampled = self._decide(parent)
            state = None if parent is None else parent.trace_state
            recorded = dict(attributes) if attributes else {}
        else:
            sampling = self.sampler.should_sample(context, trace_id, name, kind, attributes, links)
            sampled = sampling.decision in _SAMPLING
            state = sampling.trace_state
            recorded = dict(sampling.attributes) if sampling.attributes else {}
        span_id = _IDS.generate_span_id()
        flags = _SAMPLED if sampled else TraceFlags(TraceFlags.DEFAULT)
        span_context = SpanContext(trace_id, span_id, False, flags, state)
        if not sampled:
            return trace.NonRecordingSpan(span_context)
        record = SpanRecord(
            self.role,
            name,
            trace_id,
            span_id,
            TraceFlags.SAMPLED,
            parent_id,
            remote,
            kind._value_,  # the field itself: `.value` is a Python-level property
            start_time or time_ns(),
            0,
            recorded,
            trace_state=state.to_header() if state else "",
        )
        return RecordedSpan(
            self.outbox, record, span_context, links, record_exception, set_status_on_exception
        )

    def start_as_current_span(  # type: ignore[override]
        self,
        name: str,
        context: Context | None = None,
        kind: SpanKind = SpanKind.INTERNAL,
        attributes: types.Attributes = None,
        links: Sequence[Link] | None = None,
        start_time: int | None = None,
        record_exception: bool = True,
        set_status_on_exception: bool = True,
        end_on_exit: bool = True,
    ) -> CurrentSpan:
        span = self.start_span(
            name, context, kind, attributes, links, start_time, record_exception,
            set_status_on_exception,
        )  # fmt: skip
        return CurrentSpan(span, end_on_exit, record_exception, set_status_on_exception)


class RecordingProvider(trace.TracerProvider):
    """A role's provider: every tracer it gives is the role's one `RecordingTracer`."""

    def __init__(self, role: str, sampler: Sampler, outbox: Outbox) -> None:
        self.tracer = RecordingTracer(role, sampler, outbox)
        self.outbox = outbox

    def get_tracer(self, *args: object, **kwargs: object) -> trace.Tracer:
        return self.tracer

    def shutdown(self) -> None:
        self.outbox.shutdown()


class ProcessorOutbox:
    """Records made SDK spans at once and handed to SDK span processors, in this process
    (for tests, and the in-memory exporter)."""

    def __init__(self, readable: Readable, processors: Sequence[SpanProcessor]) -> None:
        self._readable = readable
        self._processors = processors

    def add(self, record: SpanRecord) -> None:
        span = self._readable.span(record)
        for processor in self._processors:
            processor.on_end(span)

    def flush(self) -> None:
        for processor in self._processors:
            processor.force_flush()

    def shutdown(self) -> None:
        for processor in self._processors:
            processor.shutdown()


class ExporterProcess:
    """Records shipped, as JSON lines, to ``python -m infrastructure.span_export`` (which
    exports them as the ``OTEL_*`` variables of ``environ`` say) by a thread that wakes
    every ``interval`` seconds; the process starts with the first records. At most
    ``capacity`` records wait; more are dropped and counted, as the SDK's batch processor
    drops what overflows its queue."""

    def __init__(
        self, environ: Mapping[str, str], interval: float = 0.2, capacity: int = 65_536
    ) -> None:
        self._environ = dict(environ)
        self._interval = interval
        self._capacity = capacity
        self._queue: deque[SpanRecord] = deque()
        self._lock = threading.Lock()  # one shipment at a time: the thread's, or a flush
        self._closed = threading.Event()
        self._process: subprocess.Popen[bytes] | None = None
        self.dropped = 0
        self._thread = threading.Thread(target=self._ship_every, name="span-shipper", daemon=True)
        self._thread.start()
        atexit.register(self.shutdown)

    def add(self, record: SpanRecord) -> None:
        if len(self._queue) >= self._capacity:
            self.dropped += 1
            return
        self._queue.append(record)

    def flush(self) -> None:
        self._ship()

    def shutdown(self) -> None:
        """Ship what waits, then let the exporter process export it and exit."""
        if self._closed.is_set():
            return
        self._closed.set()
        self._thread.join()
        self._ship()
        if self.dropped:
            log.warning("%d spans dropped: the exporter process fell behind", self.dropped)
        atexit.unregister(self.shutdown)
        if (process := self._process) is None:
            return
        try:
            if process.stdin is not None:
                process.stdin.close()
        except OSError:
            pass  # it is gone already
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()

    def _ship_every(self) -> None:
        while not self._closed.wait(self._interval):
            self._ship()

    def _ship(self) -> None:
        with self._lock:
            queue = self._queue
            batch = [queue.popleft() for _ in range(len(queue))]
            if batch:
                self._send(batch)

    def _send(self, batch: list[SpanRecord]) -> None:
        line = ENCODER.encode(batch) + b"\n"
        for attempt in (1, 2):
            if self._process is None or self._process.poll() is not None:
                if self._process is not None:
                    log.warning("the span exporter process ended; starting another")
                self._process = subprocess.Popen(
                    [sys.executable, "-m", "infrastructure.span_export"],
                    stdin=subprocess.PIPE,
                    env=self._environ,
                )
            stdin: IO[bytes] | None = self._process.stdin
            try:
                assert stdin is not None
                stdin.write(line)
                stdin.flush()
                return
            except (OSError, ValueError):
                if attempt == 2:
                    self.dropped += len(batch)
                    log.warning("the span exporter process is gone; %d spans dropped", len(batch))
