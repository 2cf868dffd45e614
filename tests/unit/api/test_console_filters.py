"""The live tail's form as live filters: each subject, narrowed to the event type."""

from __future__ import annotations

import pytest

from api.http.console.pages import filters_of

ID = "0195e3b0-0000-7000-8000-000000000001"


@pytest.mark.parametrize(
    ("subjects", "event_type", "filters"),
    [
        (None, None, []),
        ("", "", []),
        (None, "MessagePosted", ["MessagePosted"]),
        ("conversation.*, run.*", None, ["conversation.*", "run.*"]),
        ("conversation", "MessagePosted", ["conversation.*.MessagePosted"]),
        (f"conversation.{ID}", "MessagePosted", [f"conversation.{ID}.MessagePosted"]),
        (f"task.{ID}.TaskFailed", "TaskStarted", [f"task.{ID}.TaskStarted"]),
        ("MessagePosted", "TaskFailed", ["MessagePosted"]),
    ],
)
def test_subjects_are_narrowed_to_the_type(
    subjects: str | None, event_type: str | None, filters: list[str]
) -> None:
    assert filters_of(subjects, event_type) == filters
