"""Recorded spans: sampled as the SDK's samplers say, carried as records through the
exporter process's JSON lines, and made the SDK's spans again with nothing lost."""

from __future__ import annotations

import json
import os

import pytest
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanLimits
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_OFF,
    ALWAYS_ON,
    ParentBased,
    Sampler,
    TraceIdRatioBased,
)
from opentelemetry.trace import Link, SpanContext, SpanKind, StatusCode, TraceFlags

from infrastructure import tracing
from infrastructure.otlp_wire import Encoder
from infrastructure.span_recorder import ExporterProcess, RecordingTracer
from infrastructure.span_records import DECODER, ENCODER, Readable, SpanRecord
from tests.spans import ListOutbox

RESOURCE = Resource.create({"service.name": "test"})
REMOTE = SpanContext(0xABC, 0xDEF, is_remote=True, trace_flags=TraceFlags(TraceFlags.SAMPLED))


def readable(limits: SpanLimits | None = None) -> Readable:
    return Readable(lambda role: RESOURCE, limits or SpanLimits())


def through_the_pipe(records: list[SpanRecord]) -> list[SpanRecord]:
    return DECODER.decode(ENCODER.encode(records))


def test_a_span_survives_the_pipe_whole() -> None:
    outbox = ListOutbox()
    tracer = RecordingTracer("relay", ALWAYS_ON, outbox)
    parent = trace.set_span_in_context(trace.NonRecordingSpan(REMOTE))
    current = []

    def send() -> None:
        with tracer.start_as_current_span(
            "send", context=parent, kind=SpanKind.PRODUCER,
            attributes={"a": 1, "tags": ["x", "y"]}, links=[Link(REMOTE, {"why": "batch"})],
        ) as span:  # fmt: skip
            span.set_attribute("b", 2.5)
            span.add_event("sent", {"n": 3}, timestamp=7)
            current.append(trace.get_current_span() is span)
            raise KeyError("gone")

    with pytest.raises(KeyError):
        send()
    assert current == [True] and not trace.get_current_span().is_recording()

    (record,) = through_the_pipe(outbox.records)
    (made,) = readable().spans([record])
    assert made.name == "send" and made.kind is SpanKind.PRODUCER
    assert made.context.trace_id == REMOTE.trace_id and made.context.trace_flags.sampled
    assert made.parent is not None and made.parent.span_id == REMOTE.span_id
    assert made.parent.is_remote
    assert dict(made.attributes or {}) == {"a": 1, "tags": ("x", "y"), "b": 2.5}
    assert (made.events[0].name, made.events[0].timestamp) == ("sent", 7)
    assert made.events[1].name == "exception"
    assert made.events[1].attributes is not None
    assert made.events[1].attributes["exception.type"] == "KeyError"
    assert made.status.status_code is StatusCode.ERROR
    assert made.status.description == "KeyError: 'gone'"
    (link,) = made.links
    assert link.context.span_id == REMOTE.span_id and link.attributes == {"why": "batch"}
    assert made.resource is RESOURCE and made.instrumentation_scope is not None
    assert made.start_time is not None and made.end_time is not None
    assert made.start_time <= made.end_time


def test_a_span_ends_once_and_changes_nothing_after() -> None:
    outbox = ListOutbox()
    span = RecordingTracer("api", ALWAYS_ON, outbox).start_span("s")
    span.set_status(StatusCode.OK)
    span.set_status(StatusCode.ERROR, "too late: OK is final")
    span.end(end_time=10**19)
    span.end()
    span.set_attribute("after", True)
    span.update_name("renamed")
    (record,) = outbox.records
    assert record.name == "s" and record.attributes == {} and record.end == 10**19
    assert record.status == StatusCode.OK.value and not span.is_recording()


@pytest.mark.parametrize(
    ("sampler", "parent_sampled", "recorded"),
    [
        (ALWAYS_ON, False, True),
        (ALWAYS_OFF, True, False),
        (ParentBased(ALWAYS_ON), True, True),
        (ParentBased(ALWAYS_ON), False, False),
        (ParentBased(ALWAYS_OFF), True, True),
        (TraceIdRatioBased(0.0), True, False),
        (ParentBased(TraceIdRatioBased(0.0)), True, True),
    ],
)
def test_the_sampler_decides(sampler: Sampler, parent_sampled: bool, recorded: bool) -> None:
    outbox = ListOutbox()
    flags = TraceFlags(TraceFlags.SAMPLED if parent_sampled else TraceFlags.DEFAULT)
    parent = SpanContext(0xABC, 0xDEF, is_remote=True, trace_flags=flags)
    span = RecordingTracer("api", sampler, outbox).start_span(
        "s", context=trace.set_span_in_context(trace.NonRecordingSpan(parent))
    )
    span.end()
    assert span.is_recording() is False
    assert span.get_span_context().trace_id == parent.trace_id
    assert span.get_span_context().trace_flags.sampled is recorded
    assert len(outbox.records) == int(recorded)


def test_a_root_span_starts_a_trace_of_its_own() -> None:
    tracer = RecordingTracer("api", ParentBased(ALWAYS_ON), ListOutbox())
    first, second = tracer.start_span("a"), tracer.start_span("b")
    assert first.get_span_context().trace_id != second.get_span_context().trace_id
    assert first.get_span_context().is_valid and first.is_recording()


def test_the_exporting_side_applies_the_sdks_limits() -> None:
    outbox = ListOutbox()
    span = RecordingTracer("api", ALWAYS_ON, outbox).start_span("s")
    span.set_attributes({"first": 1, "second": "abcdef", "third": 3})
    span.end()
    (record,) = through_the_pipe(outbox.records)
    limits = SpanLimits(max_span_attributes=2, max_span_attribute_length=3)
    (made,) = readable(limits).spans([record])
    assert dict(made.attributes or {}) == {"second": "abc", "third": 3}


def test_records_wait_for_the_exporter_process_up_to_a_limit() -> None:
    environ = dict(os.environ) | {"OTEL_TRACES_EXPORTER": "none"}
    shipper = ExporterProcess(environ, interval=3600, capacity=2)
    tracer = RecordingTracer("api", ALWAYS_ON, shipper)
    for name in "abc":
        tracer.start_span(name).end()
    assert shipper.dropped == 1
    shipper.flush()  # starts the exporter process with the first records
    process = shipper._process
    assert process is not None and process.poll() is None
    shipper.shutdown()
    assert process.returncode == 0


def test_an_exporter_process_that_died_is_started_again() -> None:
    environ = dict(os.environ) | {"OTEL_TRACES_EXPORTER": "none"}
    shipper = ExporterProcess(environ, interval=3600)
    tracer = RecordingTracer("api", ALWAYS_ON, shipper)
    tracer.start_span("a").end()
    shipper.flush()
    first = shipper._process
    assert first is not None
    first.kill()
    first.wait()
    tracer.start_span("b").end()
    shipper.flush()
    assert shipper._process is not first and shipper.dropped == 0
    shipper.shutdown()


def test_configure_traces_every_role_through_one_exporter_process() -> None:
    assert tracing.configure(["api", "relay"], {"OTEL_TRACES_EXPORTER": "none,console"})
    try:
        api, relay = tracing.tracer("api"), tracing.tracer("relay")
        assert isinstance(api, RecordingTracer) and isinstance(relay, RecordingTracer)
        assert api.outbox is relay.outbox and tracing.tracer("worker") is api
    finally:
        tracing.uninstall()
    assert not tracing.enabled()


def test_the_otlp_request_is_the_one_the_sdk_would_send() -> None:
    outbox = ListOutbox()
    relay, api = (
        RecordingTracer("relay", ALWAYS_ON, outbox),
        RecordingTracer("api", ALWAYS_ON, outbox),
    )
    remote = trace.set_span_in_context(trace.NonRecordingSpan(REMOTE))
    with api.start_as_current_span("command", attributes={"n": -3, "on": True, "x": 0.5}):
        relay.start_span(
            "send", kind=SpanKind.PRODUCER, links=[Link(REMOTE, {"why": ["a", "b"]})],
            attributes={"ids": (1, 2), "unicode": "é", "big": 2**40},
        ).end()  # fmt: skip
    span = api.start_span("failed", context=remote)
    span.add_event("exception", {"exception.type": "KeyError"}, timestamp=5)
    span.set_status(StatusCode.ERROR, "KeyError: 'x'")
    span.end()
    records = through_the_pipe(outbox.records)
    resources = {"api": Resource.create({"service.name": "a"}), "relay": RESOURCE}
    ours = Encoder({r: resource.attributes for r, resource in resources.items()}, SpanLimits())
    sdks = encode_spans(Readable(resources.__getitem__, SpanLimits()).spans(records))
    assert ExportTraceServiceRequest.FromString(ours.request(records)) == sdks


def test_the_otlp_request_keeps_to_the_limits() -> None:
    outbox = ListOutbox()
    span = RecordingTracer("api", ALWAYS_ON, outbox).start_span("s", links=[Link(REMOTE)] * 3)
    span.set_attributes({"a": "long text", "b": 1, "c": {"not": "a value"}})
    span.end()
    limits = SpanLimits(max_span_attributes=1, max_span_attribute_length=4, max_links=2)
    request = Encoder({"api": {}}, limits).request(through_the_pipe(outbox.records))
    (made,) = ExportTraceServiceRequest.FromString(request).resource_spans[0].scope_spans[0].spans
    assert [(kv.key, kv.value.string_value) for kv in made.attributes] == [("a", "long")]
    assert made.dropped_attributes_count == 2
    assert len(made.links) == 2 and made.dropped_links_count == 1


def test_the_exporter_process_logs_as_chronicle_does(capfd: pytest.CaptureFixture[str]) -> None:
    environ = dict(os.environ) | {
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9",  # nothing listens there
        "OTEL_EXPORTER_OTLP_TIMEOUT": "1",
        "CHRONICLE_LOG_FORMAT": "json",
    }
    shipper = ExporterProcess(environ, interval=3600)
    RecordingTracer("api", ALWAYS_ON, shipper).start_span("lost").end()
    shipper.shutdown()
    lines = capfd.readouterr().err.splitlines()
    assert lines, "the failed export was not logged"
    assert all(json.loads(line)["level"] in ("warning", "error") for line in lines)
