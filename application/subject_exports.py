"""Exporting a data subject's personal values (the right of access): every value of the
caller's tenant bound to the subject, opened, with the event it came from. Reads only.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol
from uuid import UUID

from application.errors import NotFound
from domain.erasure import check_subject


@dataclass(frozen=True)
class ExportedValue:
    """The personal values of one event sealed for the subject (alone or with others),
    under the names they are stored by; those that did not open are ``None``, and
    ``unreadable`` names each with why: ``erased`` (a subject it was bound to was erased)
    or ``unreadable`` (its bytes or keys were altered)."""

    position: int
    type: str
    aggregate_id: UUID
    version: int
    recorded_at: datetime
    fields: dict[str, Any]
    unreadable: Mapping[str, str] = field(default_factory=dict)


class PersonalValues(Protocol):
    """The subjects' data keys and the values sealed with them."""

    def key_ids(self, tenant_id: str, subject: str) -> Sequence[str]:
        """The ids (32 hex digits) of the subject's data keys in the tenant: none when it
        has no values there (or they were erased)."""
        ...

    def sealed_with(self, tenant_id: str, key_ids: Sequence[str]) -> Iterator[ExportedValue]:
        """Every value of the tenant's events sealed with one of ``key_ids``, oldest first,
        read in bounded batches."""
        ...


@dataclass(frozen=True)
class SubjectExport:
    """A subject's values, read as they are iterated."""

    subject: str
    tenant_id: str
    exported_at: datetime
    values: Iterator[ExportedValue]


class SubjectExports:
    """Exports a data subject's personal values within a tenant."""

    def __init__(self, values: PersonalValues) -> None:
        self._values = values

    def export(self, tenant_id: str, subject: str) -> SubjectExport:
        """The subject's values; `NotFound` when the tenant holds no key of the subject
        (another tenant's subject of the same name is never read), `InvalidValue` when the
        name is not ``kind:id``."""
        check_subject(subject)
        key_ids = self._values.key_ids(tenant_id, subject)
        if not key_ids:
            raise NotFound(f"subject {subject} not found")
        exported_at = datetime.now(UTC)
        return SubjectExport(
            subject, tenant_id, exported_at, self._values.sealed_with(tenant_id, key_ids)
        )
