"""Finished spans as plain records: what a traced process hands to its exporter process,
and how that process turns them back into the SDK's spans for its exporters.

A record is a msgspec struct (JSON lines on the pipe: trace ids are 128-bit integers, which
MessagePack cannot carry). Attributes are checked and limited here, on the exporting side,
with the SDK's own `BoundedAttributes` and `SpanLimits`, so the traced process pays for
none of it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import msgspec
from opentelemetry.attributes import BoundedAttributes
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan, SpanLimits
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags
from opentelemetry.trace.span import TraceState

SCOPE = InstrumentationScope("chronicle")


class LinkRecord(msgspec.Struct, array_like=True):
    trace_id: int
    span_id: int
    flags: int
    remote: bool
    attributes: dict[str, Any] | None = None


class EventRecord(msgspec.Struct, array_like=True):
    name: str
    timestamp: int
    attributes: dict[str, Any] | None = None


class SpanRecord(msgspec.Struct, array_like=True):
    """A span of one of this process's roles (``end`` 0 until it ends)."""

    role: str
    name: str
    trace_id: int
    span_id: int
    flags: int
    parent_span_id: int  # 0 for a root
    parent_remote: bool
    kind: int
    start: int
    end: int
    attributes: dict[str, Any]
    links: list[LinkRecord] | None = None
    events: list[EventRecord] | None = None
    status: int = 0  # StatusCode.UNSET
    description: str | None = None
    trace_state: str = ""


def link_record(link: Link) -> LinkRecord:
    context = link.context
    attributes = dict(link.attributes) if link.attributes else None
    return LinkRecord(
        context.trace_id, context.span_id, int(context.trace_flags), context.is_remote, attributes
    )


ENCODER = msgspec.json.Encoder(enc_hook=repr)  # a value no attribute may hold: its repr
DECODER = msgspec.json.Decoder(list[SpanRecord])


class Readable:
    """Records back into SDK spans: each role's resource, the ``OTEL_*`` span limits."""

    def __init__(self, resource_of: Callable[[str], Resource], limits: SpanLimits) -> None:
        self._resource_of = resource_of
        self._resources: dict[str, Resource] = {}
        self._limits = limits

    def spans(self, records: Iterable[SpanRecord]) -> list[ReadableSpan]:
        return [self.span(record) for record in records]

    def span(self, record: SpanRecord) -> ReadableSpan:
        flags = TraceFlags(record.flags)
        state = TraceState.from_header([record.trace_state]) if record.trace_state else None
        context = SpanContext(record.trace_id, record.span_id, False, flags, state)
        parent = (
            SpanContext(record.trace_id, record.parent_span_id, record.parent_remote, flags)
            if record.parent_span_id
            else None
        )
        if (resource := self._resources.get(record.role)) is None:
            resource = self._resources[record.role] = self._resource_of(record.role)
        limits = self._limits
        return ReadableSpan(
            name=record.name,
            context=context,
            parent=parent,
            resource=resource,
            attributes=_bounded(
                record.attributes, limits.max_span_attributes, limits.max_span_attribute_length
            ),
            events=[
                Event(
                    event.name,
                    _bounded(
                        event.attributes, limits.max_event_attributes, limits.max_attribute_length
                    ),
                    event.timestamp,
                )
                for event in (record.events or ())[: limits.max_events]
            ],
            links=[
                Link(
                    SpanContext(link.trace_id, link.span_id, link.remote, TraceFlags(link.flags)),
                    _bounded(
                        link.attributes, limits.max_link_attributes, limits.max_attribute_length
                    ),
                )
                for link in (record.links or ())[: limits.max_links]
            ],
            kind=SpanKind(record.kind),
            status=Status(StatusCode(record.status), record.description),
            start_time=record.start,
            end_time=record.end,
            instrumentation_scope=SCOPE,
        )


def _bounded(
    attributes: dict[str, Any] | None, limit: int | None, length: int | None
) -> BoundedAttributes:
    """Attributes as the SDK keeps them: invalid values dropped, at most ``limit``."""
    return BoundedAttributes(limit, attributes, immutable=True, max_value_len=length)
