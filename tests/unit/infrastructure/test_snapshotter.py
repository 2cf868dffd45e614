"""When a commit makes an aggregate due a snapshot (no I/O)."""

from __future__ import annotations

from types import SimpleNamespace

from infrastructure.snapshots import Snapshotter


def events(*versions: int) -> list[SimpleNamespace]:
    return [SimpleNamespace(originator_version=v) for v in versions]


def test_a_commit_is_due_when_one_of_its_versions_is_a_multiple_of_the_interval() -> None:
    snapshots = Snapshotter(lambda _id, _version: None, interval=100)
    assert snapshots.due(events(100))
    assert snapshots.due(events(99, 100, 101))
    assert snapshots.due(events(300))
    assert not snapshots.due(events(1))
    assert not snapshots.due(events(101, 199))
    assert not snapshots.due([])
