"""A projection's audit log as facts, without any I/O."""

from __future__ import annotations

from eventsourcing.utils import resolve_topic

from domain.projection_log import ProjectionLog


def test_a_retry_of_parked_events_is_recorded_with_what_it_did() -> None:
    log = ProjectionLog(name="messages")
    log.parked_retried("0190a0a0-0000-7000-8000-000000000000", applied=3, still_parked=1)
    log.event_skipped(42, "CheckViolation")
    events = log.collect_events()
    assert [type(e).__name__ for e in events] == [
        "ProjectionRegistered",
        "ProjectionParkedRetried",
        "ProjectionEventSkipped",
    ]
    assert (log.retries, log.skipped) == (1, [42])
    assert log.id == ProjectionLog.create_id("messages")


def test_events_and_snapshots_stored_under_the_modules_old_name_still_resolve() -> None:
    names = ["ProjectionRegistered", "ProjectionRebuilt", "ProjectionParkedRetried"]
    names.append("ProjectionEventSkipped")
    assert resolve_topic("domain.operations:ProjectionLog") is ProjectionLog
    for name in names:
        stored_class = resolve_topic(f"domain.operations:ProjectionLog.{name}")
        assert stored_class is getattr(ProjectionLog, name)
