"""The envelope of a stored event with its data as plain JSON: position, stream, type,
data, metadata. What raw streams, the relay, live clients and tools see; a plain value.
(Projections get typed events instead: ``projections/events.py``.)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID


@dataclass(slots=True)  # not frozen: followers build one per event (docs/decisions/0007)
class RecordedEvent:
    """One stored event: its global position, aggregate, version, type and contents.
    Treat it as a value: nothing changes one after it is decoded."""

    position: int
    aggregate_id: UUID
    version: int
    type: str
    category: str
    data: dict[str, Any]
    metadata: dict[str, Any]
    recorded_at: datetime
    tenant_id: str = ""  # the tenant of the command that stored it ("" for none)
