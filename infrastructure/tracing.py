"""OpenTelemetry tracing: a tracer per process role (``api``, ``projector``, ``relay``,
``scheduler``, ``worker``), configured from the standard ``OTEL_*`` variables.

Unconfigured, nothing is installed: every `tracer` is the API's no-op tracer, and the
paths that would build spans check `enabled` first, so an untraced process pays one
boolean test where a traced one makes a span. Configured, a process records its spans
(`span_recorder`) and one exporter process of its own exports them with the SDK. `chronicle
up` runs several roles in one process; each role is a service of its own in a backend.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SpanExporter
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_OFF,
    ALWAYS_ON,
    ParentBased,
    Sampler,
    TraceIdRatioBased,
)
from opentelemetry.trace import Link, Span, SpanContext, Tracer
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from infrastructure.settings import SettingsError
from infrastructure.span_recorder import (
    ExporterProcess,
    Outbox,
    RecordedSpan,
    RecordingProvider,
)

ROLES = ("api", "projector", "relay", "scheduler", "alerts", "worker")
EXPORTERS = ("otlp", "console", "none")
MAX_LINKS = 128  # the SDK's default limit of links a span keeps
_PROPAGATOR = TraceContextTextMapPropagator()
_NOOP = trace.NoOpTracer()
_providers: dict[str, RecordingProvider] = {}


def configured(environ: Mapping[str, str]) -> bool:
    """Whether the environment asks for traces: an exporter or an OTLP endpoint named,
    and the SDK not disabled."""
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    exporters = environ.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if exporters:
        return exporters != "none"
    return bool(
        environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
        or environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    )


def configure(roles: Iterable[str], environ: Mapping[str, str] | None = None) -> bool:
    """Trace each role of this process as the ``OTEL_*`` variables say (``environ``'s over
    this process's environment), through one exporter process. Whether tracing is on.
    Raises `SettingsError` for a value it cannot use, before starting anything."""
    env = dict(os.environ) | dict(environ or {})
    if not configured(env):
        return False
    sampler = sampler_from_env(env)
    exporter_names(env)
    wanted = [role for role in roles if role not in _providers]
    for role in wanted:
        resource_of(role, env)
    if wanted:
        outbox = ExporterProcess(
            env,
            interval=_number(env, "OTEL_BSP_SCHEDULE_DELAY", 200) / 1000,
            capacity=_number(env, "OTEL_BSP_MAX_QUEUE_SIZE", 65_536),
        )
        for role in wanted:
            install(role, RecordingProvider(role, sampler, outbox))
    return True


def _number(environ: Mapping[str, str], name: str, default: int) -> int:
    raw = environ.get(name) or str(default)
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value <= 0:
        raise SettingsError(f"{name} must be a positive whole number, not {raw!r}")
    return value


def resource_of(role: str, environ: Mapping[str, str]) -> Resource:
    """The resource of ``role``'s spans: ``chronicle-<role>`` unless ``OTEL_SERVICE_NAME``
    names one service for all (``OTEL_RESOURCE_ATTRIBUTES`` adds to it)."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}")
    name = environ.get("OTEL_SERVICE_NAME") or f"chronicle-{role}"
    return _Resource.of(
        Resource.create(
            {"service.name": name, "service.namespace": "chronicle", "chronicle.process": role}
        )
    )


class _Resource(Resource):
    """A resource whose hash is computed once: the OTLP encoder groups every span it
    exports by resource, and the SDK's `Resource` hashes a JSON dump of its attributes
    each time."""

    _hash: int

    @classmethod
    def of(cls, resource: Resource) -> _Resource:
        made = cls(resource.attributes, resource.schema_url)
        made._hash = Resource.__hash__(made)
        return made

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: object) -> bool:
        return other is self or super().__eq__(other)


def sampler_from_env(environ: Mapping[str, str]) -> Sampler:
    """The sampler ``OTEL_TRACES_SAMPLER`` (and ``OTEL_TRACES_SAMPLER_ARG``) names; by
    default the specification's ``parentbased_always_on``."""
    name = (environ.get("OTEL_TRACES_SAMPLER") or "parentbased_always_on").strip().lower()
    raw = environ.get("OTEL_TRACES_SAMPLER_ARG") or "1.0"
    try:
        ratio = float(raw)
    except ValueError:
        raise SettingsError(f"OTEL_TRACES_SAMPLER_ARG must be a ratio, not {raw!r}") from None
    samplers: dict[str, Callable[[], Sampler]] = {
        "always_on": lambda: ALWAYS_ON,
        "always_off": lambda: ALWAYS_OFF,
        "traceidratio": lambda: TraceIdRatioBased(ratio),
        "parentbased_always_on": lambda: ParentBased(ALWAYS_ON),
        "parentbased_always_off": lambda: ParentBased(ALWAYS_OFF),
        "parentbased_traceidratio": lambda: ParentBased(TraceIdRatioBased(ratio)),
    }
    if name not in samplers:
        raise SettingsError(
            f"OTEL_TRACES_SAMPLER must be one of {', '.join(samplers)}, not {name!r}"
        )
    return samplers[name]()


def exporter_names(environ: Mapping[str, str]) -> list[str]:
    """The exporters ``OTEL_TRACES_EXPORTER`` names (``otlp`` by default), checked."""
    names = [n.strip() for n in environ.get("OTEL_TRACES_EXPORTER", "otlp").lower().split(",")]
    for name in filter(None, names):
        if name not in EXPORTERS:
            raise SettingsError(f"OTEL_TRACES_EXPORTER must be otlp, console or none, not {name!r}")
        if name == "otlp":
            _otlp_protocol(environ)
    return [name for name in names if name and name != "none"]


def exporters(environ: Mapping[str, str]) -> list[SpanExporter]:
    """The SDK's exporters of ``OTEL_TRACES_EXPORTER``."""
    made: list[SpanExporter] = []
    for name in exporter_names(environ):
        made.append(_otlp_exporter(environ) if name == "otlp" else ConsoleSpanExporter())
    return made


def _otlp_protocol(environ: Mapping[str, str]) -> None:
    protocol = (
        environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
        or environ.get("OTEL_EXPORTER_OTLP_PROTOCOL")
        or "http/protobuf"
    )
    if protocol != "http/protobuf":
        raise SettingsError(
            f"OTEL_EXPORTER_OTLP_PROTOCOL {protocol!r} is not supported; use http/protobuf"
            " (the collector's port 4318)"
        )


def _otlp_exporter(environ: Mapping[str, str]) -> SpanExporter:
    # The exporter reads its headers, timeout and compression from the environment itself.
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    endpoint = environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    if not endpoint and (base := environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")):
        endpoint = base.rstrip("/") + "/v1/traces"
    return OTLPSpanExporter(endpoint=endpoint or None)


def install(role: str, provider: RecordingProvider) -> None:
    """Trace ``role`` with ``provider`` (tests install one whose outbox exports in-process)."""
    first = not _providers
    _providers[role] = provider
    if first and isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):
        trace.set_tracer_provider(provider)  # for instrumentation libraries


def install_all(roles: Iterable[str], outbox: Outbox, sampler: Sampler = ALWAYS_ON) -> None:
    """Trace every one of ``roles`` into ``outbox``."""
    for role in roles:
        install(role, RecordingProvider(role, sampler, outbox))


def uninstall() -> None:
    """Stop tracing in this process: export what waits and forget every role's tracer.
    (The global provider of instrumentation libraries can be set only once; it stays.)"""
    outboxes = {id(provider.outbox): provider.outbox for provider in _providers.values()}
    _providers.clear()
    for outbox in outboxes.values():
        outbox.shutdown()


def flush() -> None:
    """Hand every ended span to the exporter process now."""
    for outbox in {id(p.outbox): p.outbox for p in _providers.values()}.values():
        outbox.flush()


def enabled() -> bool:
    """Whether this process traces."""
    return bool(_providers)


def tracer(role: str) -> Tracer:
    """``role``'s tracer; in a process that runs another role (the scheduler writes
    commands), its first role's; the no-op tracer when it traces not."""
    provider = _providers.get(role) or next(iter(_providers.values()), None)
    return _NOOP if provider is None else provider.tracer


def traceparent_of(span: Span) -> str | None:
    """The W3C ``traceparent`` naming ``span``, or None for an invalid one. (Formatted
    here: the propagator's ``inject`` builds a context and a carrier for each call.)"""
    if isinstance(span, RecordedSpan):
        return span.traceparent()
    context = span.get_span_context()
    if not context.is_valid:
        return None
    return f"00-{context.trace_id:032x}-{context.span_id:016x}-{context.trace_flags:02x}"


def context_of(traceparent: str | None) -> Context | None:
    """A context whose current span is the one ``traceparent`` names (None if malformed)."""
    if not traceparent:
        return None
    context = _PROPAGATOR.extract({"traceparent": traceparent})
    return context if trace.get_current_span(context).get_span_context().is_valid else None


def span_context_of(traceparent: str | None) -> SpanContext | None:
    context = context_of(traceparent)
    return None if context is None else trace.get_current_span(context).get_span_context()


def links_to(traceparents: Iterable[str | None], limit: int = MAX_LINKS) -> list[Link]:
    """Links to the distinct spans ``traceparents`` name, at most ``limit`` of them."""
    seen: dict[str, Link] = {}
    for traceparent in traceparents:
        if traceparent is None or traceparent in seen:
            continue
        if (span_context := span_context_of(traceparent)) is not None:
            seen[traceparent] = Link(span_context)
            if len(seen) >= limit:
                break
    return list(seen.values())
