"""`chronicle up`'s logs as a collector reads them: stderr not on a terminal is JSON lines,
uvicorn's included, and each request is one access line naming the client's request id."""

from __future__ import annotations

import json
import time
from typing import Any

from tests.e2e.conftest import Chronicle


def json_lines(chronicle: Chronicle) -> list[dict[str, Any]]:
    assert chronicle.errors is not None
    text = chronicle.errors.read_text()
    assert text, "nothing was logged"
    return [json.loads(line) for line in text.splitlines()]


def test_stderr_is_json_lines_with_an_access_line_per_request(chronicle: Chronicle) -> None:
    chronicle.start(stderr_apart=True)
    with chronicle.client() as http:
        started = http.post(
            "/v1/conversations", json={"title": "Logged"}, headers={"X-Request-ID": "e2e-logs-1"}
        )
        assert started.status_code == 201
        assert started.headers["x-request-id"] == "e2e-logs-1"
        unknown = http.get("/nowhere", headers={"X-Request-ID": "e2e-logs-2"})
        assert unknown.status_code == 404
    deadline = time.monotonic() + 10
    while not any(line.get("request_id") == "e2e-logs-2" for line in json_lines(chronicle)):
        assert time.monotonic() < deadline, "no access line for the request"
        time.sleep(0.05)
    lines = json_lines(chronicle)  # each parses as JSON
    assert all({"timestamp", "level", "logger", "message"} <= set(line) for line in lines)
    access = [line for line in lines if line["logger"] == "chronicle.access"]
    [created] = [line for line in access if line.get("request_id") == "e2e-logs-1"]
    assert created["method"] == "POST" and created["path"] == "/v1/conversations"
    assert created["status"] == 201 and created["duration_ms"] > 0
    assert created["tenant"] == "default" and created["command"] == "conversation.start"
    [missing] = [line for line in access if line.get("request_id") == "e2e-logs-2"]
    assert missing["path"] == "/nowhere" and missing["status"] == 404
    assert any(line["logger"].startswith("uvicorn") for line in lines), lines
