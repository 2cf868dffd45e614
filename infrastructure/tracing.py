"""OpenTelemetry tracing: a tracer provider per process role (``api``, ``projector``,
``relay``, ``scheduler``, ``worker``), configured from the standard ``OTEL_*`` variables.

Unconfigured, nothing is installed: every `tracer` is the API's no-op tracer, and the
paths that would build spans check `enabled` first, so an untraced process pays one
boolean test where a traced one makes a span. `chronicle up` runs several roles in one
process; each keeps its own provider, so a backend shows them as separate services.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SpanExporter,
)
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

ROLES = ("api", "projector", "relay", "scheduler", "worker")
SCOPE = "chronicle"
MAX_LINKS = 128  # the SDK's default limit of links a span keeps
_PROPAGATOR = TraceContextTextMapPropagator()
_NOOP = trace.NoOpTracer()
_providers: dict[str, TracerProvider] = {}
_tracers: dict[str, Tracer] = {}


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
    """Install a provider for each role of this process, as the ``OTEL_*`` variables say;
    the first role's also becomes the global provider (for instrumentation libraries).
    Whether tracing is on. Raises `SettingsError` for an exporter it cannot build."""
    env = os.environ if environ is None else environ
    if not configured(env):
        return False
    for role in roles:
        if role not in _providers:
            install(role, provider_from_env(role, env))
    return True


def provider_from_env(role: str, environ: Mapping[str, str]) -> TracerProvider:
    """A provider for ``role``: its resource, the sampler of ``OTEL_TRACES_SAMPLER`` and a
    batch processor (``OTEL_BSP_*``) per exporter of ``OTEL_TRACES_EXPORTER``."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}")
    name = environ.get("OTEL_SERVICE_NAME") or f"chronicle-{role}"
    resource = _Resource.of(
        Resource.create(
            {"service.name": name, "service.namespace": "chronicle", "chronicle.process": role}
        )
    )
    provider = TracerProvider(resource=resource, sampler=sampler_from_env(environ))
    for exporter in _exporters(environ):
        provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider


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


def _exporters(environ: Mapping[str, str]) -> list[SpanExporter]:
    names = [n.strip() for n in environ.get("OTEL_TRACES_EXPORTER", "otlp").lower().split(",")]
    exporters: list[SpanExporter] = []
    for name in filter(None, names):
        if name == "otlp":
            exporters.append(_otlp_exporter(environ))
        elif name == "console":
            exporters.append(ConsoleSpanExporter())
        elif name != "none":
            raise SettingsError(f"OTEL_TRACES_EXPORTER must be otlp, console or none, not {name!r}")
    return exporters


def _otlp_exporter(environ: Mapping[str, str]) -> SpanExporter:
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
    # The exporter reads its headers, timeout and compression from the environment itself.
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    endpoint = environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    if not endpoint and (base := environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")):
        endpoint = base.rstrip("/") + "/v1/traces"
    return OTLPSpanExporter(endpoint=endpoint or None)


def install(role: str, provider: TracerProvider) -> None:
    """Use ``provider`` for ``role`` (tests install one with an in-memory exporter)."""
    first = not _providers
    _providers[role] = provider
    _tracers.clear()  # a role that borrowed another's provider may now have its own
    if first and isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):
        trace.set_tracer_provider(provider)


def uninstall() -> None:
    """Stop tracing in this process: flush and forget every role's provider. (The global
    provider of instrumentation libraries can be set only once; it stays.)"""
    for provider in _providers.values():
        provider.shutdown()
    _providers.clear()
    _tracers.clear()


def enabled() -> bool:
    """Whether this process traces."""
    return bool(_providers)


def tracer(role: str) -> Tracer:
    """The tracer of ``role``'s provider; in a process that runs another role (the
    scheduler writes commands), its first role's; the no-op tracer when it traces not."""
    if (found := _tracers.get(role)) is not None:
        return found
    provider = _providers.get(role) or next(iter(_providers.values()), None)
    if provider is None:
        return _NOOP
    made = _tracers[role] = provider.get_tracer(SCOPE)
    return made


def traceparent_of(span: Span) -> str | None:
    """The W3C ``traceparent`` naming ``span``, or None for an invalid one. (Formatted
    here: the propagator's ``inject`` builds a context and a carrier for each call.)"""
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
