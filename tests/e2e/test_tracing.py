"""`chronicle up` exports its traces over OTLP/HTTP to a receiver the test starts: one
command sent with a known trace id yields spans of the api, relay and projector services,
and its access log line names the trace."""

from __future__ import annotations

import json
import time

from tests.e2e.conftest import Chronicle
from tests.otlp_receiver import ReceivedSpan, receiving

TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
INCOMING = f"00-{TRACE_ID}-b7ad6b7169203331-01"


PROJECTED = {"group commit", "project messages"}


def test_up_exports_one_commands_spans_over_otlp(chronicle: Chronicle) -> None:
    with receiving() as receiver:
        chronicle.extra_env = {
            "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url,
            "OTEL_BSP_SCHEDULE_DELAY": "100",
        }
        chronicle.start(stderr_apart=True)
        with chronicle.client() as http:
            created = http.post("/v1/conversations", json={"title": "exported"})
            cid = created.json()["id"]
            posted = http.post(
                f"/v1/conversations/{cid}/messages",
                json={"role": "user", "content": "hi"},
                headers={"traceparent": INCOMING, "X-Request-ID": "traced-1"},
            )
            assert posted.status_code == 201, posted.text
            assert posted.headers["traceparent"].split("-")[1] == TRACE_ID

        def services(spans: list[ReceivedSpan]) -> set[str]:
            in_trace = {s.service for s in spans if s.trace_id == TRACE_ID}
            linked = {s.service for s in spans if TRACE_ID in s.linked_traces}
            return in_trace | linked

        def projected(spans: list[ReceivedSpan]) -> set[str]:
            return {s.name for s in spans if TRACE_ID in s.linked_traces}

        def arrived(spans: list[ReceivedSpan]) -> bool:  # each process exports on its own
            every = {"chronicle-api", "chronicle-relay", "chronicle-projector"}
            return every <= services(spans) and projected(spans) >= PROJECTED

        deadline = time.monotonic() + 30
        while not arrived(spans := receiver.snapshot()):
            assert time.monotonic() < deadline, (services(spans), chronicle.output.read_text())
            time.sleep(0.1)
        chronicle.stop()

    names = {(s.service, s.name) for s in spans if s.trace_id == TRACE_ID}
    assert ("chronicle-api", "command conversation.post_message") in names
    assert ("chronicle-api", "POST /v1/conversations/{conversation_id}/messages") in names or any(
        service == "chronicle-api" and name.startswith("POST ") for service, name in names
    )
    assert ("chronicle-relay", "send CHRONICLE_EVENTS") in names
    assert projected(spans) >= PROJECTED

    assert chronicle.errors is not None
    lines = [json.loads(line) for line in chronicle.errors.read_text().splitlines()]
    [access] = [line for line in lines if line.get("request_id") == "traced-1"]
    assert access["trace_id"] == TRACE_ID
    server_span = posted.headers["traceparent"].split("-")[2]
    assert access["span_id"] == server_span
