"""The co-editing bench pieces measure what they claim, on small sizes."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest

from api.bench.documents import co_edit, plain_append_rate
from infrastructure.event_store import PostgresEventStore
from infrastructure.settings import Settings
from tests.integration.conftest import KeyFactory, serving

EDITORS = 4


@pytest.fixture(scope="module")
def uncapped_url(servers: Settings, relaying: None) -> Iterator[str]:
    """An API without the socket's frame cap, as the bench runs it."""
    with serving(replace(servers, live_frames_per_second=0)) as url:
        yield url


async def test_every_op_is_timed_at_every_other_editor_and_all_converge(
    uncapped_url: str, issue_key: KeyFactory
) -> None:
    run = await co_edit(uncapped_url, issue_key(), 1.0, steady=True, editors=EDITORS)
    assert run.converged, run.detail
    assert run.ops > 0
    assert len(run.latencies_ms) == run.ops * (EDITORS - 1)
    assert all(ms > 0 for ms in run.latencies_ms)
    assert run.editors_cpu_s > 0 and run.cpu_ms_per_op(run.editors_cpu_s) > 0
    assert run.frames_per_message >= 1


async def test_unpaced_editors_converge(uncapped_url: str, issue_key: KeyFactory) -> None:
    run = await co_edit(uncapped_url, issue_key(), 1.0, steady=False, editors=EDITORS)
    assert run.converged, run.detail
    assert run.ops > EDITORS and run.ops_per_s > 0


def test_plain_appends_write_every_op_they_count(scratch: Settings) -> None:
    store = PostgresEventStore(scratch)
    try:
        assert plain_append_rate(store, 60, callers=6) > 0
        with store.recorder.datastore.get_connection() as conn:
            row = conn.execute(
                "SELECT count(*) AS n FROM chronicle_events WHERE type = 'OperationApplied'"
            ).fetchone()
    finally:
        store.close()
    assert row is not None and row["n"] == 60
