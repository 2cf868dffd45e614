"""Shared fixtures: real embedded servers, started once per test session."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from infrastructure.embedded import EmbeddedServers
from infrastructure.settings import Settings

FIRST = "tests/e2e/test_fuzz.py"  # the longest file by far


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The fuzz first: one worker runs it while the other takes the rest."""
    items.sort(key=lambda item: item.nodeid.split("::")[0] != FIRST)


@pytest.fixture(scope="session")
def servers() -> Iterator[Settings]:
    """PostgreSQL, NATS and Valkey from their wheels, for the whole session.

    Their data lives outside pytest's numbered temporary directories: pytest keeps only
    the newest three per user, so a concurrent session would delete this one's.
    """
    with tempfile.TemporaryDirectory(prefix="chronicle-tests-") as directory:
        data_dir = Path(directory)
        with EmbeddedServers(data_dir).running() as embedded:
            yield Settings(data_dir=data_dir).with_urls(
                embedded.postgres().url, embedded.nats().url, embedded.valkey().url
            )
