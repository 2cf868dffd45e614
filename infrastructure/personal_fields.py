"""The personal fields the domain declares (``domain.privacy``), sealed in events and
snapshots on their way to the log and opened on their way out; and the mapper that does
it for the library's loads and snapshots.

Each sealed value is bound to its place (aggregate, version, field) as associated data, so
a sealed value moved to another event or field does not open.
"""

from __future__ import annotations

import json
from copy import copy
from functools import cache
from typing import Any, TypeGuard
from uuid import UUID

import structlog
from eventsourcing.domain import Aggregate, Snapshot
from eventsourcing.persistence import Mapper, MapperDeserialisationError, StoredEvent
from eventsourcing.utils import resolve_topic

from domain.privacy import Personal, personal_event, personal_named, personal_state
from infrastructure.subject_keys import KeyRing, SealBroken
from projections.runs import WIRE_TYPES

log = structlog.get_logger(__name__)

STATE_PREFIX = "state."  # a snapshot's attributes, as places of sealed values
UNREADABLE = "unreadable"  # a value that did not open, as readers are told


def place(aggregate_id: Any, version: int, field: str) -> bytes:
    """The associated data of a sealed value: where it is stored."""
    return f"{aggregate_id}:{version}:{field}".encode()


def is_sealed(value: Any) -> TypeGuard[dict[str, Any]]:
    return type(value) is dict and "sealed" in value and "ciphertext" in value


RUN_EVENT_NAMES = {wire: name for name, wire in WIRE_TYPES.items()}


@cache
def personal_on_wire(category: str, wire_type: str) -> Personal | None:
    """The personal fields of the events of a category and type as published."""
    name = RUN_EVENT_NAMES.get(wire_type, wire_type) if category == "run" else wire_type
    return personal_named(category, name)


@cache
def personal_of_topic(topic: str) -> Personal | None:
    """The personal fields of the events of a topic."""
    return personal_event(resolve_topic(topic))


class BrokenField(SealBroken):
    """A personal field of a stored event that does not open, named with its place."""

    def __init__(self, where: str, field: str, why: SealBroken) -> None:
        super().__init__(f"{where}: personal field {field!r} {why}")
        self.field = field


class PersonalFields:
    """Seals and opens the declared personal fields with a `KeyRing`."""

    def __init__(self, ring: KeyRing) -> None:
        self.ring = ring

    def sealed_event(self, event: Any, aggregate: Aggregate, used: set[str]) -> Any:
        """The event itself, or a copy of it with its personal values sealed."""
        personal = personal_event(type(event))
        if personal is None:
            return event
        fields = vars(event)
        sealed = self.seal_values(
            personal,
            fields,
            str(getattr(aggregate, "tenant_id", "")),
            event.originator_id,
            event.originator_version,
            vars(aggregate),
            "",
            used,
        )
        if not sealed:
            return event
        clone = object.__new__(type(event))
        object.__setattr__(clone, "__dict__", fields | sealed)
        return clone

    def seal_state(
        self, aggregate_class: type[Any], aggregate_id: Any, version: int, state: dict[str, Any]
    ) -> dict[str, Any]:
        """A snapshot's state with its personal attributes sealed (stored at once)."""
        personal = personal_state(aggregate_class)
        if personal is None:
            return state
        used: set[str] = set()
        tenant = str(state.get("tenant_id", ""))
        sealed = self.seal_values(
            personal, state, tenant, aggregate_id, version, state, STATE_PREFIX, used
        )
        self.ring.store_now(used)
        return state | sealed

    def seal_values(
        self,
        personal: Personal,
        fields: dict[str, Any],
        tenant: str,
        aggregate_id: Any,
        version: int,
        state: Any,
        prefix: str,
        used: set[str],
    ) -> dict[str, Any]:
        """The personal values of ``fields`` sealed (under their names), for the subjects
        ``personal`` binds them to; the key ids used added to ``used``."""
        subjects = personal.subjects_of(fields, aggregate_id, state)
        if not subjects:
            return {}
        return {
            name: self.ring.seal(
                tenant, subjects, fields[name], place(aggregate_id, version, prefix + name), used
            )
            for name in personal.fields
            if fields.get(name) is not None and not is_sealed(fields[name])
        }

    def open(
        self,
        personal: Personal,
        values: dict[str, Any],
        aggregate_id: Any,
        version: int,
        prefix: str = "",
    ) -> None:
        """Open the sealed personal values in place; `BrokenField` names the first that
        does not open. Values stored before they were sealed are left as they are."""
        for name in personal.fields:
            value = values.get(name)
            if is_sealed(value):
                try:
                    values[name] = self.ring.open(
                        value, place(aggregate_id, version, prefix + name)
                    )
                except SealBroken as error:
                    raise BrokenField(f"{aggregate_id} v{version}", name, error) from None

    def open_for_reader(
        self,
        personal: Personal,
        values: dict[str, Any],
        aggregate_id: Any,
        version: int,
        position: int,
        *,
        may_load: bool = True,
    ) -> None:
        """Open in place for a reader, who is never refused: a value that does not open reads
        as ``null``, named under ``_privacy`` (and reported). `KeysNotLoaded` as
        `KeyRing.open` raises it."""
        for name in personal.fields:
            value = values.get(name)
            if is_sealed(value):
                try:
                    where = place(aggregate_id, version, name)
                    values[name] = self.ring.open(value, where, may_load=may_load)
                except SealBroken as error:
                    log.warning(
                        "a personal value does not open",
                        position=position,
                        field=name,
                        error=str(error),
                    )
                    values[name] = None
                    values.setdefault("_privacy", {})[name] = UNREADABLE

    def open_cloud_event(self, personal: Personal, payload: bytes, *, may_load: bool) -> bytes:
        """A CloudEvent as the relay published it, with its personal values opened, in the
        same JSON as `infrastructure.envelope.cloud_event` writes (so byte for byte the event
        a replay from the log gives)."""
        envelope = json.loads(payload)
        data = envelope.get("data")
        if type(data) is not dict:
            return payload
        subject, version = envelope.get("subject"), envelope.get("version")
        position = int(envelope.get("id") or 0)
        self.open_for_reader(personal, data, subject, version, position, may_load=may_load)
        return json.dumps(envelope).encode()


class SealingMapper(Mapper[UUID]):
    """The library's mapper, opening personal values of the events and snapshots it loads
    and sealing those of the snapshots it stores (events are sealed in the commit seam,
    where their aggregate is at hand). Unsealing needs `personal` set after construction."""

    personal: PersonalFields | None = None

    def to_stored_event(self, domain_event: Any) -> StoredEvent:
        if isinstance(domain_event, Snapshot) and self.personal is not None:
            aggregate_class = resolve_topic(domain_event.topic)
            state = self.personal.seal_state(
                aggregate_class,
                domain_event.originator_id,
                domain_event.originator_version,
                domain_event.state,
            )
            if state is not domain_event.state:
                domain_event = copy(domain_event)
                object.__setattr__(domain_event, "state", state)
        return super().to_stored_event(domain_event)

    def to_domain_event(self, stored_event: StoredEvent) -> Any:
        domain_event = super().to_domain_event(stored_event)
        if self.personal is None:
            return domain_event
        values = vars(domain_event)
        try:
            if isinstance(domain_event, Snapshot):
                personal = personal_state(resolve_topic(domain_event.topic))
                if personal is not None:
                    values["state"] = dict(domain_event.state)
                    self.personal.open(
                        personal,
                        values["state"],
                        stored_event.originator_id,
                        stored_event.originator_version,
                        STATE_PREFIX,
                    )
            elif (personal := personal_of_topic(stored_event.topic)) is not None:
                self.personal.open(
                    personal, values, stored_event.originator_id, stored_event.originator_version
                )
        except SealBroken as error:
            raise MapperDeserialisationError(str(error)) from error
        return domain_event
