"""How a stored event travels: its NATS subject and its CloudEvents 1.0 JSON envelope.

The relay and the live API build both here, so an event is byte-identical either way.
"""

from __future__ import annotations

from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent

from domain.events import RecordedEvent
from projections.runs import WIRE_TYPES

SUBJECT_PREFIX = "chronicle.events"
STREAM_NAME = "CHRONICLE_EVENTS"
_FORMAT = JSONFormat()


def wire_type(event: RecordedEvent) -> str:
    """The event's type on the wire: the agent events' names for runs, else the class name."""
    return WIRE_TYPES.get(event.type, event.type) if event.category == "run" else event.type


def subject_of(event: RecordedEvent) -> str:
    """``chronicle.events.<tenant>.<category>.<aggregate_id>.<type>``."""
    tenant = event.tenant_id or "_unknown"
    return f"{SUBJECT_PREFIX}.{tenant}.{event.category}.{event.aggregate_id}.{wire_type(event)}"


def cloud_event(event: RecordedEvent) -> bytes:
    """The CloudEvents 1.0 structured JSON of an event; ``id`` is its position."""
    attributes = {
        "id": str(event.position),
        "source": f"/chronicle/{event.tenant_id}/{event.category}",
        "type": f"chronicle.{event.category}.{wire_type(event)}",
        "subject": str(event.aggregate_id),
        "time": event.recorded_at,
        "datacontenttype": "application/json",
        "tenant": event.tenant_id,
        "version": event.version,
    }
    if traceparent := event.metadata.get("traceparent"):
        attributes["traceparent"] = traceparent
    return _FORMAT.write(CloudEvent(attributes, event.data))
