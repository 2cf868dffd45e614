"""Tracing is configured from the OTEL_* variables, and is off without them."""

from __future__ import annotations

import pytest
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON, ParentBased, TraceIdRatioBased

from infrastructure import tracing
from infrastructure.settings import SettingsError
from infrastructure.span_recorder import RecordingTracer
from tests.spans import ListOutbox


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, False),
        ({"OTEL_SERVICE_NAME": "x"}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, True),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c:4318/v1/traces"}, True),
        ({"OTEL_TRACES_EXPORTER": "console"}, True),
        ({"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c"}, False),
        ({"OTEL_SDK_DISABLED": "true", "OTEL_TRACES_EXPORTER": "console"}, False),
    ],
)
def test_tracing_is_on_only_when_an_exporter_or_endpoint_is_named(
    environ: dict[str, str], expected: bool
) -> None:
    assert tracing.configured(environ) is expected


def test_unconfigured_tracers_are_the_apis_no_op() -> None:
    assert not tracing.enabled()
    span = tracing.tracer("relay").start_span("nothing")
    assert not span.is_recording()


def test_each_role_is_a_service_of_its_own_unless_one_is_named() -> None:
    relay = tracing.resource_of("relay", {})
    assert relay.attributes["service.name"] == "chronicle-relay"
    assert relay.attributes["chronicle.process"] == "relay"
    named = tracing.resource_of("api", {"OTEL_SERVICE_NAME": "assistant"})
    assert named.attributes["service.name"] == "assistant"
    assert named.attributes["chronicle.process"] == "api"
    with pytest.raises(ValueError, match="unknown role"):
        tracing.resource_of("janitor", {})


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("always_on", type(ALWAYS_ON)),
        ("always_off", type(ALWAYS_OFF)),
        ("traceidratio", TraceIdRatioBased),
        ("parentbased_traceidratio", ParentBased),
        ("", ParentBased),
    ],
)
def test_the_sampler_is_the_one_named(name: str, kind: type) -> None:
    sampler = tracing.sampler_from_env(
        {"OTEL_TRACES_SAMPLER": name, "OTEL_TRACES_SAMPLER_ARG": "0.25"}
    )
    assert isinstance(sampler, kind)


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"OTEL_TRACES_SAMPLER": "sometimes"}, "OTEL_TRACES_SAMPLER must be one of"),
        ({"OTEL_TRACES_SAMPLER_ARG": "half"}, "OTEL_TRACES_SAMPLER_ARG must be a ratio"),
        ({"OTEL_TRACES_EXPORTER": "jaeger"}, "OTEL_TRACES_EXPORTER must be otlp, console or none"),
        ({"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, "use http/protobuf"),
        ({"OTEL_BSP_SCHEDULE_DELAY": "soon"}, "OTEL_BSP_SCHEDULE_DELAY must be a positive"),
        ({"OTEL_BSP_MAX_QUEUE_SIZE": "0"}, "OTEL_BSP_MAX_QUEUE_SIZE must be a positive"),
    ],
)
def test_a_value_it_cannot_use_is_one_clear_error(environ: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        tracing.configure(["api"], {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c"} | environ)
    assert not tracing.enabled()


def test_the_otlp_endpoint_gets_the_traces_path() -> None:
    (exporter,) = tracing.exporters({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318/"})
    assert exporter._endpoint == "http://c:4318/v1/traces"  # type: ignore[attr-defined]
    exporter.shutdown()


def test_traceparents_name_spans_and_links_skip_what_is_malformed() -> None:
    span = RecordingTracer("api", ALWAYS_ON, ListOutbox()).start_span("s")
    traceparent = tracing.traceparent_of(span)
    assert traceparent is not None
    context = span.get_span_context()
    assert traceparent.startswith(f"00-{context.trace_id:032x}-{context.span_id:016x}-")
    assert tracing.span_context_of(traceparent) == context.__class__(
        context.trace_id, context.span_id, is_remote=True, trace_flags=context.trace_flags
    )
    assert tracing.context_of("garbage") is None and tracing.context_of(None) is None
    links = tracing.links_to([traceparent, traceparent, None, "00-zz", traceparent])
    assert [link.context.span_id for link in links] == [context.span_id]
