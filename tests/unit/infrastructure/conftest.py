"""Fixtures of the infrastructure's unit tests (no I/O)."""

from __future__ import annotations

from collections.abc import Iterator
from uuid import UUID

import pytest
from eventsourcing.persistence import Mapper
from eventsourcing.utils import get_topic

from infrastructure.event_store import ChronicleApplication
from infrastructure.transcoder import ChronicleTranscoder


@pytest.fixture(scope="module")
def mapper() -> Iterator[Mapper[UUID]]:
    """The application's mapper, on in-memory persistence."""
    app = ChronicleApplication(
        env={
            "PERSISTENCE_MODULE": "eventsourcing.popo",
            "TRANSCODER_TOPIC": get_topic(ChronicleTranscoder),
        }
    )
    yield app.mapper
    app.close()
