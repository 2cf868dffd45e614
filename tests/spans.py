"""Spans of this process, recorded as production records them and handed to the SDK's
in-memory exporter (instead of an exporter process)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanLimits
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from infrastructure import tracing
from infrastructure.span_recorder import ProcessorOutbox
from infrastructure.span_records import Readable, SpanRecord


@contextmanager
def recorded(roles: Sequence[str] = ("api",)) -> Iterator[InMemorySpanExporter]:
    """Trace ``roles`` (each the service ``test-<role>``) into an in-memory exporter."""
    assert not tracing.enabled(), "another test left tracing on"
    spans = InMemorySpanExporter()
    readable = Readable(
        lambda role: Resource.create({"service.name": f"test-{role}"}), SpanLimits()
    )
    tracing.install_all(roles, ProcessorOutbox(readable, [SimpleSpanProcessor(spans)]))
    try:
        yield spans
    finally:
        tracing.uninstall()


class ListOutbox:
    """Records kept in a list, as they end."""

    def __init__(self) -> None:
        self.records: list[SpanRecord] = []

    def add(self, record: SpanRecord) -> None:
        self.records.append(record)

    def flush(self) -> None:
        pass

    def shutdown(self) -> None:
        pass
