"""Stored events read back for followers: as typed events for projections, and as
envelopes with plain JSON data for the relay, live clients and tools. Writes nothing.

Followers read far more events than commands write, so the stored JSON (the
`eventsourcing` library's, with tagged UUIDs, datetimes and decimals) is decoded directly
rather than through domain objects. An event stored by an older version of its class
(``class_version``) is upcast by its class's ``upcast_vN_vN+1`` methods as the library's
mapper upcasts it, on the state the mapper would give them, and reads as an event stored
by the current version would.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache, partial
from typing import Any
from uuid import UUID

import msgspec
from eventsourcing.persistence import JSONTranscoder, Mapper
from eventsourcing.utils import get_topic, resolve_topic

from domain.erasure import DataSubject
from domain.events import RecordedEvent
from infrastructure.personal_fields import SEALED, PersonalFields
from infrastructure.subject_keys import SealBroken
from projections.events import TYPED, Event, Metadata, OtherEvent

ERASED_TOPIC = get_topic(DataSubject.SubjectErased)  # type: ignore[attr-defined]
EVENT_HEADER_FIELDS = (
    "originator_id",
    "originator_version",
    "originator_topic",
    "timestamp",
    "metadata",
)


class UnexpectedShape(ValueError):
    """A stored event whose state does not fit its typed event: a field renamed, removed
    or retyped in the domain without an upcast. Parked like any event a projection cannot
    apply, under the tenant it names."""

    def __init__(self, message: str, tenant_id: str) -> None:
        super().__init__(message)
        self.tenant_id = tenant_id


@cache
def category_of(topic: str) -> str:
    """The category (``conversation``, ``run``, ``task``, ``audit``…) of an event's topic."""
    module, qualname = topic.split(":", 1)
    aggregate = resolve_topic(f"{module}:{qualname.split('.', 1)[0]}")
    return str(getattr(aggregate, "category", "audit"))


@cache
def topic_parts(topic: str) -> tuple[str, str]:
    """The event type and the category of a topic."""
    return topic.rsplit(".", 1)[-1], category_of(topic)


@cache
def class_version_of(topic: str) -> int:
    """The version of the event class a topic names today (1 unless it was upcast)."""
    return int(getattr(resolve_topic(topic), "class_version", 1))


@cache
def typed_event_of(topic: str) -> tuple[type[Event], int]:
    """The typed event of a topic's events, and the version of their class today."""
    return TYPED.get(resolve_topic(topic), OtherEvent), class_version_of(topic)


class StoredEventDecoder:
    """Decodes rows of the events table; the mapper is the application's (its transcoder
    decodes tagged values for upcasts). With ``personal``, personal values are opened;
    without (the relay's), they stay sealed."""

    def __init__(self, mapper: Mapper[UUID], personal: PersonalFields | None = None) -> None:
        self._personal = personal
        assert isinstance(mapper.transcoder, JSONTranscoder)
        self._decoders = {name: t.decode for name, t in mapper.transcoder.names.items()}
        # The same UUID as the library's transcoding gives, made in C: uuid.UUID's own
        # constructor is the dearest part of reading an old event.
        self._decoders["uuid_hex"] = partial(msgspec.convert, type=UUID)

    def typed(
        self,
        position: int,
        aggregate_id: UUID,
        version: int,
        topic: str,
        stored: bytes,
        tenant_id: str | None = None,
    ) -> Event:
        """The typed event a projection applies (an `OtherEvent` if it has none), from
        the columns of its row.

        Raises `UnexpectedShape` when the stored state does not fit it, naming the row's
        tenant (where it was read, else the metadata's), and `SealBroken` (naming the
        position and the field) when a personal value does not open.
        """
        state: dict[str, Any] = msgspec.json.decode(stored)
        if topic == ERASED_TOPIC:
            self._forget(state)
        elif SEALED in state and self._personal is not None:
            try:
                self._personal.open(state, aggregate_id, version)
            except SealBroken as error:
                raise SealBroken(f"the event at position {position}: {error}") from None
        kind, current = typed_event_of(topic)
        if (stored_version := state.pop("class_version", 1)) != current:
            state = self._upcast(state, stored_version, aggregate_id, version, topic)
        metadata = state.pop("metadata", None) or {}
        try:
            if kind is OtherEvent:
                return OtherEvent(
                    position=position,
                    aggregate_id=aggregate_id,
                    version=version,
                    recorded_at=_timestamp(state["timestamp"]),
                    metadata=msgspec.convert(metadata, Metadata),
                    name=topic_parts(topic)[0],
                )
            untag_for_typed(state)
            state["recorded_at"] = state.pop("timestamp")
            state["metadata"] = metadata
            state["position"], state["aggregate_id"] = position, aggregate_id
            state["version"] = version
            return msgspec.convert(state, kind)
        except msgspec.ValidationError as error:
            tenant = tenant_id
            if tenant is None and isinstance(metadata, dict):
                tenant = metadata.get("tenant_id")
            raise UnexpectedShape(
                f"{kind.__name__} at position {position} does not fit its typed event: {error}",
                str(tenant or ""),
            ) from error

    def recorded(
        self,
        position: int,
        aggregate_id: UUID,
        version: int,
        topic: str,
        stored: bytes,
        tenant_id: str | None = None,
    ) -> RecordedEvent:
        """The event as an envelope with plain JSON data (UUIDs, times, decimals as strings),
        from the columns of its row; its tenant the row's where it was read, else the
        metadata's. A personal value that does not open reads as ``null`` (see
        `PersonalFields.open_for_reader`)."""
        state: dict[str, Any] = msgspec.json.decode(stored)
        if topic == ERASED_TOPIC:
            self._forget(state)
        elif SEALED in state and self._personal is not None:
            self._personal.open_for_reader(state, aggregate_id, version, position)
        if (stored_version := state.pop("class_version", 1)) != class_version_of(topic):
            state = self._upcast(state, stored_version, aggregate_id, version, topic)
        recorded_at = _timestamp(state.pop("timestamp"))
        metadata = state.pop("metadata", None) or {}
        for header in EVENT_HEADER_FIELDS:  # timestamp and metadata are gone already
            state.pop(header, None)
        if tenant_id is None:
            tenant_id = str(metadata.get("tenant_id", ""))
        untag_values(state)
        kind, category = topic_parts(topic)
        # Positional: a follower makes one per event.
        return RecordedEvent(
            position, aggregate_id, version, kind, category, state, metadata, recorded_at, tenant_id
        )

    def _forget(self, erasure: dict[str, Any]) -> None:
        """A follower reading an erasure forgets the subject's keys before it reads on."""
        if self._personal is not None:
            self._personal.ring.forget(str(erasure.get("tenant_id")), str(erasure.get("subject")))

    def _upcast(
        self,
        state: dict[str, Any],
        stored_version: int,
        aggregate_id: UUID,
        version: int,
        topic: str,
    ) -> dict[str, Any]:
        """The stored state of an older version of its class, upcast step by step as the
        library's mapper does (``Mapper.to_domain_event``: tagged values decoded, the
        originator added; the metadata, plain text, as stored), then given back as plain JSON
        values as stored ones are read."""
        event_class = resolve_topic(topic)
        revived = dict(state)
        for key, value in state.items():
            if key != "metadata" and (type(value) is dict or type(value) is list):
                revived[key] = self._revived(value)
        revived["originator_id"], revived["originator_version"] = aggregate_id, version
        while stored_version < event_class.class_version:
            getattr(event_class, f"upcast_v{stored_version}_v{stored_version + 1}")(revived)
            stored_version += 1
        timestamp, metadata = revived.pop("timestamp"), revived.pop("metadata", None)
        plain: dict[str, Any] = msgspec.to_builtins(
            {k: v for k, v in revived.items() if k not in EVENT_HEADER_FIELDS}
        )
        return plain | {"timestamp": timestamp, "metadata": metadata}

    def _revived(self, value: Any) -> Any:
        """A JSON value with the library's tagged values decoded, innermost first, as its
        transcoder's object hook decodes them."""
        if type(value) is dict:
            if len(value) == 2 and "_type_" in value and "_data_" in value:
                data = self._revived(value["_data_"])
                return self._decoders[value["_type_"]](data)
            return {key: self._revived(item) for key, item in value.items()}
        if type(value) is list:
            return [self._revived(item) for item in value]
        return value


def _timestamp(value: Any) -> datetime:
    """A stored timestamp: tagged as the library stores it, or a datetime already."""
    if type(value) is datetime:
        return value
    return datetime.fromisoformat(value["_data_"])


def untag_values(state: dict[str, Any]) -> None:
    """`untag` each value of a stored state, in place."""
    for key, value in state.items():
        if type(value) is dict or type(value) is list:
            state[key] = untag(value)


def untag_for_typed(state: dict[str, Any]) -> None:
    """`untag_values` for a typed event: a tagged value at the top (an id, a time) gives
    its data as stored, which `msgspec.convert` reads into the struct's field (a UUID
    from its 32 hex digits) without a string made in between."""
    for key, value in state.items():
        if type(value) is dict:
            data = value.get("_data_")
            state[key] = data if data is not None and "_type_" in value else untag(value)
        elif type(value) is list:
            state[key] = untag(value)


def untag(value: Any) -> Any:
    """Plain JSON values from eventsourcing's tagged ones (``{"_type_": …, "_data_": …}``)."""
    if isinstance(value, dict):
        tag = value.get("_type_")
        if tag == "uuid_hex":
            h = value["_data_"]  # 32 hex digits, as eventsourcing writes them
            return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
        if tag is not None and "_data_" in value:
            return value["_data_"]  # datetimes as ISO strings, decimals as strings
        return {k: untag(v) for k, v in value.items()}
    if isinstance(value, list):
        return [untag(v) for v in value]
    return value
