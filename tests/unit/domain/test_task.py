"""The Task aggregate's lifecycle, with time and jitter given to it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from domain.errors import InvalidValue, TaskIsCancelled, TaskStateConflict
from domain.task import Task

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def task(max_attempts: int = 3, timeout_s: float = 10, backoff_s: float = 2) -> Task:
    return Task.submit("acme", "email", {"to": "x"}, 5, max_attempts, timeout_s, T0, backoff_s)


def names(t: Task) -> list[str]:
    return [type(e).__name__ for e in t.collect_events()]


def test_start_heartbeat_succeed() -> None:
    t = task()
    t.start("w1", T0)
    assert (t.state, t.attempt, t.lease_until) == ("running", 1, T0 + timedelta(seconds=10))
    t.heartbeat(T0 + timedelta(seconds=5), 50, "half")
    assert t.lease_until == T0 + timedelta(seconds=15)
    t.succeed({"ok": True})
    assert names(t) == ["TaskSubmitted", "TaskStarted", "TaskProgressed", "TaskSucceeded"]


def test_a_task_is_not_claimable_before_run_at_or_twice() -> None:
    t = Task.submit("acme", "email", None, 0, 3, 10, T0 + timedelta(seconds=5), 1)
    with pytest.raises(TaskStateConflict):
        t.start("w1", T0)
    t.start("w1", T0 + timedelta(seconds=5))
    with pytest.raises(TaskStateConflict):
        t.start("w2", T0 + timedelta(seconds=5))


def test_a_retryable_failure_backs_off_exponentially_with_jitter() -> None:
    t = task(backoff_s=2)
    t.start("w", T0)
    t.fail("smtp down", True, T0, jitter=1.0)
    assert (t.state, t.run_at) == ("pending", T0 + timedelta(seconds=2))
    t.start("w", t.run_at)
    t.fail("smtp down", True, t.run_at, jitter=0.5)
    assert t.run_at == T0 + timedelta(seconds=2) + timedelta(seconds=2 * 2 * 0.5)


def test_the_last_failed_attempt_is_dead_lettered() -> None:
    t = task(max_attempts=2, backoff_s=0)
    for _ in range(2):
        t.start("w", T0)
        t.fail("boom", True, T0, 1.0)
    assert t.state == "dead"
    assert names(t)[-2:] == ["TaskFailed", "TaskDeadLettered"]


def test_a_dead_letter_is_retried_with_one_more_attempt_and_can_die_again() -> None:
    t = task(max_attempts=1, backoff_s=0)
    t.start("w", T0)
    t.fail("boom", True, T0, 1.0)
    later = T0 + timedelta(minutes=5)
    t.retry(later)
    assert (t.state, t.attempt, t.max_attempts, t.run_at) == ("pending", 1, 2, later)
    assert not t.claimable(T0) and t.claimable(later)
    t.start("w", later)
    assert t.attempt == 2
    t.fail("boom again", True, later, 1.0)
    assert t.state == "dead"
    assert names(t)[-4:] == ["TaskRequeued", "TaskStarted", "TaskFailed", "TaskDeadLettered"]


@pytest.mark.parametrize("state", ["pending", "running", "succeeded", "failed", "cancelled"])
def test_only_a_dead_task_is_retried(state: str) -> None:
    t = task(max_attempts=3)
    if state != "pending":
        t.start("w", T0)
    if state == "succeeded":
        t.succeed(None)
    elif state == "failed":
        t.fail("bad input", False, T0, 1.0)
    elif state == "cancelled":
        t.cancel("no longer needed")
    assert t.state == state
    with pytest.raises(TaskStateConflict):
        t.retry(T0)


def test_a_non_retryable_failure_is_final() -> None:
    t = task()
    t.start("w", T0)
    t.fail("bad input", False, T0, 1.0)
    assert t.state == "failed"


def test_an_expired_lease_times_out_into_a_retry_or_dead() -> None:
    t = task(max_attempts=2, timeout_s=1, backoff_s=1)
    t.start("w", T0)
    with pytest.raises(TaskStateConflict):
        t.time_out(T0, 1.0)
    t.time_out(T0 + timedelta(seconds=2), 1.0)
    assert (t.state, t.run_at) == ("pending", T0 + timedelta(seconds=3))
    t.start("w", t.run_at)
    t.time_out(t.run_at + timedelta(seconds=2), 1.0)
    assert t.state == "dead"
    with pytest.raises(TaskStateConflict):
        t.time_out(T0 + timedelta(hours=1), 1.0)


def test_a_cancelled_task_tells_its_worker_at_the_next_heartbeat() -> None:
    t = task()
    t.start("w", T0)
    t.cancel("no longer needed")
    with pytest.raises(TaskIsCancelled, match="no longer needed"):
        t.heartbeat(T0, None, None)
    with pytest.raises(TaskStateConflict):
        t.cancel("again")


@pytest.mark.parametrize(
    ("field", "kwargs"),
    [
        ("priority", {"priority": 10}),
        ("max_attempts", {"max_attempts": 0}),
        ("max_attempts", {"max_attempts": 21}),
        ("timeout_s", {"timeout_s": 0}),
        ("type", {"type": "has space"}),
    ],
)
def test_bad_submissions_are_refused(field: str, kwargs: dict[str, object]) -> None:
    values: dict[str, object] = {
        "tenant_id": "acme",
        "type": "email",
        "payload": None,
        "priority": 0,
        "max_attempts": 3,
        "timeout_s": 10,
        "run_at": T0,
        "backoff_s": 1,
    } | kwargs
    with pytest.raises(InvalidValue) as error:
        Task.submit(**values)  # type: ignore[arg-type]
    assert error.value.field == field


@pytest.mark.parametrize(
    ("field", "submit"),
    [
        ("payload", lambda: Task.submit("acme", "t", {"k": "a\x00b"}, 0, 3, 10, T0, 1)),
        ("run_at", lambda: Task.submit("acme", "t", None, 0, 3, 10, T0.replace(tzinfo=None), 1)),
        ("type", lambda: Task.submit("acme", "é", None, 0, 3, 10, T0, 1)),
        ("type", lambda: Task.submit("acme", "a b", None, 0, 3, 10, T0, 1)),
    ],
)
def test_a_submission_must_be_storable(field: str, submit: Callable[[], Task]) -> None:
    with pytest.raises(InvalidValue) as error:
        submit()
    assert error.value.field == field


def test_results_notes_and_errors_must_be_storable() -> None:
    t = task()
    t.start("w1", T0)
    with pytest.raises(InvalidValue):
        t.heartbeat(T0, None, "a\x00")
    with pytest.raises(InvalidValue):
        t.succeed({"x": float("nan")})
    with pytest.raises(InvalidValue):
        t.fail("", True, T0, 1.0)


def test_run_at_is_kept_in_utc_whatever_offset_it_came_with() -> None:
    far = datetime.fromisoformat("4380-02-18T00:24:51-22:12")
    t = Task.submit("acme", "t", None, 0, 3, 10, far, 1)
    assert t.run_at == far and t.run_at.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("0001-01-01T00:00:00+05:00", "0001-01-01T00:00:00+00:00"),
        ("9999-12-31T23:00:00-05:00", "9999-12-31T23:59:59.999999+00:00"),
    ],
)
def test_a_run_at_with_no_utc_equivalent_is_the_nearest_moment_utc_has(
    given: str, kept: str
) -> None:
    t = Task.submit("acme", "t", None, 0, 3, 10, datetime.fromisoformat(given), 1)
    assert t.run_at == datetime.fromisoformat(kept)
