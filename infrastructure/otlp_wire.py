"""OTLP/protobuf request bytes of span records, written directly in the protobuf wire
format (``opentelemetry/proto/trace/v1/trace.proto``).

The SDK's encoder builds a protobuf object per span, attribute and value from its spans;
the exporter process would spend more CPU on that than a traced command costs, and on a
small machine it competes with the processes it traces. These bytes are the same request:
the tests parse them with the official protobuf classes and compare them with the SDK's.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from opentelemetry.sdk.trace import SpanLimits

from infrastructure.span_records import SpanRecord

_VARINTS = [bytes([n]) for n in range(128)]
_DOUBLE = struct.Struct("<d").pack
_FIXED64 = struct.Struct("<Q").pack
_FIXED32 = struct.Struct("<I").pack
_UINT64 = (1 << 64) - 1
_KEYS: dict[str, bytes] = {}  # an attribute key's field, encoded once
# The flags' bits for "whether the parent (or the link) is remote is known" and "it is"
# (without the W3C trace flags in the low byte, as the SDK writes them).
_HAS_IS_REMOTE, _IS_REMOTE = 0x100, 0x200


def _varint(n: int) -> bytes:
    if n < 128:
        return _VARINTS[n]
    out = bytearray()
    while n > 127:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited field (wire type 2)."""
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def any_value(value: Any, length: int | None) -> bytes | None:
    """An ``AnyValue``'s payload; None for a value no attribute may hold."""
    if isinstance(value, str):
        encoded = (value if length is None else value[:length]).encode()
        return b"\x0a" + _varint(len(encoded)) + encoded
    if isinstance(value, bool):
        return b"\x10\x01" if value else b"\x10\x00"
    if isinstance(value, int):
        return b"\x18" + _varint(value & _UINT64)
    if isinstance(value, float):
        return b"\x21" + _DOUBLE(value)
    if isinstance(value, (list, tuple)):
        parts = [any_value(item, length) for item in value]
        if any(part is None for part in parts):
            return None
        return _field(5, b"".join(_field(1, part) for part in parts if part is not None))
    return None


def key_values(
    number: int, attributes: Mapping[str, Any] | None, count: int | None, length: int | None
) -> tuple[bytes, int]:
    """Field ``number`` repeated, a ``KeyValue`` per attribute kept (at most ``count``,
    strings cut at ``length``); and how many were dropped."""
    if not attributes:
        return b"", 0
    out, kept, tag = [], 0, _varint(number << 3 | 2)
    for key, value in attributes.items():
        if count is not None and kept >= count:
            break
        if (encoded := any_value(value, length)) is not None:
            if (key_field := _KEYS.get(key)) is None:
                key_field = _field(1, key.encode())
                if len(_KEYS) < 4096:  # the keys of Chronicle's spans, and then some
                    _KEYS[key] = key_field
            pair = key_field + b"\x12" + _varint(len(encoded)) + encoded
            out.append(tag + _varint(len(pair)) + pair)
            kept += 1
    return b"".join(out), len(attributes) - kept


def _dropped(number: int, count: int) -> bytes:
    return _varint(number << 3) + _varint(count) if count else b""


class Encoder:
    """Requests of records, each role a resource of its own."""

    def __init__(self, resources: Mapping[str, Mapping[str, Any]], limits: SpanLimits) -> None:
        self._limits = limits
        self._resources = {
            role: _field(1, key_values(1, attributes, None, None)[0])
            for role, attributes in resources.items()
        }
        self._scope = _field(1, _field(1, b"chronicle"))

    def request(self, records: Iterable[SpanRecord]) -> bytes:
        """An ``ExportTraceServiceRequest`` of ``records``."""
        by_role: dict[str, list[bytes]] = {}
        for record in records:
            by_role.setdefault(record.role, []).append(_field(2, self.span(record)))
        return b"".join(
            _field(1, self._resources[role] + _field(2, self._scope + b"".join(spans)))
            for role, spans in by_role.items()
        )

    def span(self, record: SpanRecord) -> bytes:
        """A ``Span``'s payload."""
        limits = self._limits
        attributes, dropped = key_values(
            9, record.attributes, limits.max_span_attributes, limits.max_span_attribute_length
        )
        flags = _HAS_IS_REMOTE | (_IS_REMOTE if record.parent_remote else 0)
        parts = [
            b"\x0a\x10" + record.trace_id.to_bytes(16, "big"),
            b"\x12\x08" + record.span_id.to_bytes(8, "big"),
            _field(3, record.trace_state.encode()) if record.trace_state else b"",
            b"\x22\x08" + record.parent_span_id.to_bytes(8, "big")
            if record.parent_span_id
            else b"",
            _field(5, record.name.encode()),
            b"\x30" + _varint(record.kind + 1),  # the protocol counts from UNSPECIFIED
            b"\x39" + _FIXED64(record.start),
            b"\x41" + _FIXED64(record.end),
            attributes,
            _dropped(10, dropped),
        ]
        if record.events:
            parts.append(self._events(record))
        if record.links:
            parts.append(self._links(record))
        status = (_field(2, record.description.encode()) if record.description else b"") + (
            b"\x18" + _varint(record.status) if record.status else b""
        )
        parts.append(_field(15, status))
        parts.append(b"\x85\x01" + _FIXED32(flags))
        return b"".join(parts)

    def _events(self, record: SpanRecord) -> bytes:
        limits, events = self._limits, record.events or []
        kept = events if limits.max_events is None else events[: limits.max_events]
        out = []
        for event in kept:
            attributes, dropped = key_values(
                3, event.attributes, limits.max_event_attributes, limits.max_attribute_length
            )
            payload = b"\x09" + _FIXED64(event.timestamp) + _field(2, event.name.encode())
            out.append(_field(11, payload + attributes + _dropped(4, dropped)))
        return b"".join(out) + _dropped(12, len(events) - len(kept))

    def _links(self, record: SpanRecord) -> bytes:
        limits, links = self._limits, record.links or []
        kept: Sequence[Any] = links if limits.max_links is None else links[: limits.max_links]
        out = []
        for link in kept:
            attributes, dropped = key_values(
                4, link.attributes, limits.max_link_attributes, limits.max_attribute_length
            )
            flags = _HAS_IS_REMOTE | (_IS_REMOTE if link.remote else 0)
            payload = (
                b"\x0a\x10"
                + link.trace_id.to_bytes(16, "big")
                + b"\x12\x08"
                + link.span_id.to_bytes(8, "big")
                + attributes
                + _dropped(5, dropped)
                + b"\x35"
                + _FIXED32(flags)
            )
            out.append(_field(13, payload))
        return b"".join(out) + _dropped(14, len(links) - len(kept))
