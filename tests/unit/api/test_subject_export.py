"""The export's JSON, written in pieces as its values are read."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from uuid import uuid4

import msgspec

from api.http.subject_export import SubjectExportOut, export_json, value_out
from application.subject_exports import ExportedValue, SubjectExport

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


def values(count: int) -> list[ExportedValue]:
    return [
        ExportedValue(i + 1, "MessagePosted", uuid4(), i + 2, NOW, {"content": "x" * i}, {})
        for i in range(count)
    ]


def pieces(found: list[ExportedValue], chunk_bytes: int) -> list[bytes]:
    read: Iterator[ExportedValue] = iter(found)
    return list(export_json(SubjectExport("user:alice", "t", NOW, read), chunk_bytes))


def whole(found: list[ExportedValue]) -> bytes:
    answer = SubjectExportOut("user:alice", "t", NOW, [value_out(v) for v in found])
    return msgspec.json.encode(answer)


def test_the_pieces_make_the_whole_answer_encoded_at_once() -> None:
    for count in (0, 1, 2, 50):
        found = values(count)
        assert b"".join(pieces(found, 100)) == whole(found)
        assert b"".join(pieces(found, 1 << 20)) == whole(found)


def test_values_are_written_in_pieces_of_about_the_size_asked() -> None:
    found = values(50)
    largest = max(len(msgspec.json.encode(value_out(v))) for v in found) + len(b",")
    written = pieces(found, 100)
    assert len(written) > 10
    assert all(100 <= len(piece) < 100 + largest for piece in written[:-1])
