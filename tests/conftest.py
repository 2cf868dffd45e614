"""Shared fixtures: real embedded servers, started once per test session."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from infrastructure.embedded import EmbeddedServers
from infrastructure.settings import Settings


@pytest.fixture(scope="session")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """PostgreSQL, NATS and Valkey from their wheels, for the whole session."""
    data_dir: Path = tmp_path_factory.mktemp("chronicle")
    with EmbeddedServers(data_dir).running() as embedded:
        yield Settings(data_dir=data_dir).with_urls(
            embedded.postgres().url, embedded.nats().url, embedded.valkey().url
        )
