"""The personal fields the domain declares (``domain.privacy``), sealed in events and
snapshots on their way to the log and opened on their way out; and the mapper that does
it for the library's loads and snapshots.

An event's personal values are sealed together, as one value stored under ``_sealed`` in
place of the fields (which it names): one AES-GCM operation an event, read or written. It is
bound to its place (aggregate, version) as associated data, so a sealed value copied to
another event does not open.
"""

from __future__ import annotations

import json
from copy import copy
from typing import Any
from uuid import UUID

import structlog
from eventsourcing.domain import Aggregate, Snapshot
from eventsourcing.persistence import (
    Mapper,
    MapperDeserialisationError,
    StoredEvent,
    find_id_convertor,
)
from eventsourcing.utils import get_topic, resolve_topic

from domain.privacy import Personal, personal_event, personal_state
from infrastructure.subject_keys import KeyGone, KeyRing, SealBroken

log = structlog.get_logger(__name__)

SEALED = "_sealed"  # the stored key of an event's (or a snapshot's) sealed personal values
SEALED_BYTES = b'"_sealed"'
STATE = ":state"  # a snapshot's place, beside its aggregate's event of the same version
PRIVACY = "_privacy"  # where a reader is told of values that did not open
UNREADABLE = "unreadable"
ERASED = "erased"


def place(aggregate_id: Any, version: Any, where: str = "") -> bytes:
    """The associated data of a sealed value: where it is stored."""
    return f"{aggregate_id}:{version}{where}".encode()


class BrokenField(SealBroken):
    """Sealed personal values of a stored event that do not open, named by their fields."""

    def __init__(self, fields: list[str], why: SealBroken) -> None:
        super().__init__(f"personal field {', '.join(map(repr, fields))} {why}")
        self.fields = fields


def sealed_fields(sealed: Any) -> list[str]:
    names = sealed.get("fields") if type(sealed) is dict else None
    return [str(n) for n in names] if type(names) is list else [SEALED]


class PersonalFields:
    """Seals and opens the declared personal values with a `KeyRing`."""

    def __init__(self, ring: KeyRing) -> None:
        self.ring = ring

    def sealed_event(self, event: Any, aggregate: Aggregate, used: set[str]) -> Any:
        """The event itself, or a copy of it with its personal values sealed."""
        personal = personal_event(type(event))
        if personal is None:
            return event
        values = self.sealed_values(
            personal,
            vars(event),
            str(getattr(aggregate, "tenant_id", "")),
            event.originator_id,
            event.originator_version,
            vars(aggregate),
            used,
        )
        if values is None:
            return event
        clone = object.__new__(type(event))
        object.__setattr__(clone, "__dict__", values)
        return clone

    def seal_state(
        self, aggregate_class: type[Any], aggregate_id: Any, version: int, state: dict[str, Any]
    ) -> dict[str, Any]:
        """A snapshot's state with its personal attributes sealed (their keys stored at once)."""
        personal = personal_state(aggregate_class)
        if personal is None:
            return state
        used: set[str] = set()
        tenant = str(state.get("tenant_id", ""))
        sealed = self.sealed_values(
            personal, state, tenant, aggregate_id, version, state, used, STATE
        )
        self.ring.store_now(used)
        return state if sealed is None else sealed

    def seal_in_place(
        self,
        personal: Personal,
        values: dict[str, Any],
        tenant: str,
        aggregate_id: Any,
        version: int,
        state: Any,
        used: set[str],
        where: str = "",
    ) -> None:
        """Take the personal values out of ``values`` and put them back sealed together
        under `SEALED` for the subjects ``personal`` binds them to (the key ids used added
        to ``used``); nothing when there is nothing to seal."""
        aggregate_id = str(aggregate_id)  # once: a UUID's text is dear to make
        subjects = personal.subjects_of(values, aggregate_id, state)
        names = [name for name in personal.fields if values.get(name) is not None]
        if not subjects or not names or SEALED in values:
            return
        fields = {name: values.pop(name) for name in names}
        where_stored = place(aggregate_id, version, where)
        values[SEALED] = self.ring.sealed_json(tenant, subjects, fields, where_stored, used)

    def sealed_values(
        self,
        personal: Personal,
        values: dict[str, Any],
        tenant: str,
        aggregate_id: Any,
        version: int,
        state: Any,
        used: set[str],
        where: str = "",
    ) -> dict[str, Any] | None:
        """A copy of ``values`` with the personal ones sealed together under `SEALED` for
        the subjects ``personal`` binds them to (the key ids used added to ``used``);
        ``None`` when there is nothing to seal."""
        copy = dict(values)
        self.seal_in_place(personal, copy, tenant, aggregate_id, version, state, used, where)
        return copy if SEALED in copy and SEALED not in values else None

    def open(
        self, values: dict[str, Any], aggregate_id: Any, version: Any, where: str = ""
    ) -> None:
        """Open the sealed personal values in place (a state without any is left as it is:
        written before values were sealed); erased ones become ``None``; `BrokenField`
        when they do not open otherwise."""
        sealed = values.pop(SEALED, None)
        if sealed is None:
            return
        try:
            opened = self.ring.open(sealed, place(aggregate_id, version, where))
            if type(opened) is not dict:
                raise SealBroken("does not hold fields")
        except KeyGone:
            opened = dict.fromkeys(sealed_fields(sealed))
        except SealBroken as error:
            raise BrokenField(sealed_fields(sealed), error) from None
        values.update(opened)

    def open_for_reader(
        self,
        values: dict[str, Any],
        aggregate_id: Any,
        version: Any,
        position: int,
        *,
        may_load: bool = True,
    ) -> None:
        """Open in place for a reader, who is never refused: values that do not open read
        as ``null``, each named under `PRIVACY` as `ERASED` (their subject was erased) or
        `UNREADABLE` (reported: their bytes or keys were altered). `KeysNotLoaded` as
        `KeyRing.open` raises it."""
        sealed = values.get(SEALED)
        if sealed is None:
            return
        try:
            opened = self.ring.open(sealed, place(aggregate_id, version), may_load=may_load)
            if type(opened) is not dict:
                raise SealBroken("does not hold fields")
        except KeyGone:
            fields = sealed_fields(sealed)
            opened = dict.fromkeys(fields)
            values[PRIVACY] = dict.fromkeys(fields, ERASED)
        except SealBroken as error:
            fields = sealed_fields(sealed)
            log.warning(
                "personal values do not open", position=position, fields=fields, error=str(error)
            )
            opened = dict.fromkeys(fields)
            values[PRIVACY] = dict.fromkeys(fields, UNREADABLE)
        del values[SEALED]
        values.update(opened)

    def open_cloud_event(self, payload: bytes, *, may_load: bool) -> bytes:
        """A CloudEvent as the relay published it, with its personal values opened, in the
        same JSON as `infrastructure.envelope.cloud_event` writes (so byte for byte the event
        a replay from the log gives)."""
        if SEALED_BYTES not in payload:
            return payload
        envelope = json.loads(payload)
        data = envelope.get("data")
        if type(data) is not dict or SEALED not in data:
            return payload
        subject, version = envelope.get("subject"), envelope.get("version")
        position = int(envelope.get("id") or 0)
        self.open_for_reader(data, subject, version, position, may_load=may_load)
        return json.dumps(envelope).encode()


class SealingMapper(Mapper[UUID]):
    """The library's mapper, opening personal values of the events and snapshots it loads
    and sealing those of the snapshots it stores (events are sealed in the commit seam,
    where their aggregate is at hand). Opens and seals once `personal` is set."""

    personal: PersonalFields | None = None

    def to_stored_sealed(
        self, domain_event: Any, aggregate: Aggregate, used: set[str]
    ) -> StoredEvent:
        """The library's `Mapper.to_stored_event`, the event's personal values sealed in
        the state it copies (the event itself keeps them), the keys used added to ``used``."""
        personal = personal_event(type(domain_event))
        if personal is None or self.personal is None:
            return self.to_stored_event(domain_event)
        state = dict(vars(domain_event))
        aggregate_id = state.pop("originator_id")
        version = state.pop("originator_version")
        class_version = getattr(type(domain_event), "class_version", 1)
        if class_version > 1:
            state["class_version"] = class_version
        tenant = str(getattr(aggregate, "tenant_id", ""))
        self.personal.seal_in_place(
            personal, state, tenant, aggregate_id, version, vars(aggregate), used
        )
        return StoredEvent(
            originator_id=aggregate_id,
            originator_version=version,
            topic=get_topic(type(domain_event)),
            state=self.transcoder.encode(state),
        )

    def to_stored_event(self, domain_event: Any) -> StoredEvent:
        if isinstance(domain_event, Snapshot) and self.personal is not None:
            state = self.personal.seal_state(
                resolve_topic(domain_event.topic),
                domain_event.originator_id,
                domain_event.originator_version,
                domain_event.state,
            )
            if state is not domain_event.state:
                domain_event = copy(domain_event)
                object.__setattr__(domain_event, "state", state)
        return super().to_stored_event(domain_event)

    def to_domain_event(self, stored_event: StoredEvent) -> Any:
        """The library's `Mapper.to_domain_event`, the personal values opened before any
        upcast (upcasts see the fields as the domain declares them)."""
        if self.personal is None:
            return super().to_domain_event(stored_event)
        cls = resolve_topic(stored_event.topic)
        aggregate_id, version = stored_event.originator_id, stored_event.originator_version
        try:
            state: dict[str, Any] = self.transcoder.decode(stored_event.state)
            if cls is Snapshot or issubclass(cls, Snapshot):
                if SEALED in state["state"]:
                    self.personal.open(state["state"], aggregate_id, version, STATE)
            elif SEALED in state:
                self.personal.open(state, aggregate_id, version)
        except Exception as error:
            raise MapperDeserialisationError(f"{aggregate_id} v{version}: {error}") from error
        convert = find_id_convertor(cls, type(aggregate_id))  # type: ignore[arg-type]
        state["originator_id"] = convert(aggregate_id)
        state["originator_version"] = version
        stored_version = state.pop("class_version", 1)
        class_version = getattr(cls, "class_version", 1)
        while stored_version < class_version:
            getattr(cls, f"upcast_v{stored_version}_v{stored_version + 1}")(state)
            stored_version += 1
        domain_event = object.__new__(cls)
        object.__setattr__(domain_event, "__dict__", state)
        return domain_event
