"""OpenTelemetry tracing, set up the same way in every process: one trace per command, from
the HTTP request through the event store (the W3C `traceparent` stored with each event), the
relay (a span per published event, its context in the Kafka header `traceparent`) to the
workers (a span per applied message) and the query API's read-your-writes wait.

Spans go to Zipkin (the local stack's, or `SMARTCOURSE_ZIPKIN_URL`), or over OTLP/HTTP when
`SMARTCOURSE_OTLP_ENDPOINT` is set; `SMARTCOURSE_TRACING=false` turns tracing off (no
provider: every span is a no-op), `SMARTCOURSE_TRACING_SAMPLE_RATIO` samples.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from smartcourse.settings import Settings

log = logging.getLogger("smartcourse.tracing")
PROPAGATOR = TraceContextTextMapPropagator()
HEADER = "traceparent"
_configured = False


def configure_tracing(settings: Settings, service: str) -> bool:
    """Install the tracer provider of this process (once); False when tracing is off."""
    global _configured
    if not settings.tracing or _configured:
        return _configured
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

    provider = TracerProvider(
        resource=Resource.create({"service.name": service, "service.namespace": "smartcourse"}),
        sampler=ParentBased(TraceIdRatioBased(settings.tracing_sample_ratio)))
    if settings.otlp_endpoint:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter(endpoint=settings.otlp_endpoint)
    else:
        from opentelemetry.exporter.zipkin.json import ZipkinExporter

        exporter = ZipkinExporter(endpoint=f"{settings.zipkin_url}/api/v2/spans")
    provider.add_span_processor(BatchSpanProcessor(exporter, max_queue_size=20_000,
                                                   max_export_batch_size=2_000))
    trace.set_tracer_provider(provider)
    _configured = True
    log.info("tracing on", extra={"service": service,
                                  "exporter": "otlp" if settings.otlp_endpoint else "zipkin"})
    return True


def enabled() -> bool:
    return _configured


def tracer() -> trace.Tracer:
    return trace.get_tracer("smartcourse")


def current_traceparent() -> str | None:
    """The current span's context as a W3C traceparent, or None without a recording span."""
    if not _configured:
        return None
    carrier: dict[str, str] = {}
    PROPAGATOR.inject(carrier)
    return carrier.get(HEADER)


def context_of(traceparent: str | bytes | None) -> otel_context.Context | None:
    if not traceparent:
        return None
    value = traceparent.decode() if isinstance(traceparent, bytes) else traceparent
    return PROPAGATOR.extract({HEADER: value})


def child_span(name: str, traceparent: str | bytes | None, kind: SpanKind,
               attributes: dict[str, object] | None = None,
               start_time: int | None = None) -> Span | None:
    """A span continuing the trace of `traceparent` (None without one, or tracing off)."""
    parent = context_of(traceparent) if _configured else None
    if parent is None:
        return None
    return tracer().start_span(name, context=parent, kind=kind, start_time=start_time,
                               attributes=attributes)  # type: ignore[arg-type]


def traceparent_of(span: Span) -> str:
    carrier: dict[str, str] = {}
    PROPAGATOR.inject(carrier, context=trace.set_span_in_context(span))
    return carrier[HEADER]


def header_value(headers: Iterable[tuple[str, bytes]] | dict | None) -> bytes | None:
    if not headers:
        return None
    pairs = headers.items() if isinstance(headers, dict) else headers
    for name, value in pairs:
        if name == HEADER:
            return value
    return None
