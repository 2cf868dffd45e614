"""The exporter process of a traced Chronicle process (``python -m
infrastructure.span_export``): span records in, one JSON list per line on stdin; out through
the exporters its ``OTEL_*`` variables name, in batches of ``OTEL_BSP_MAX_EXPORT_BATCH_SIZE``.
It exports as it reads, so a slow collector fills the pipe and its parent's queue (which
drops and counts what overflows) rather than this process's memory. It exits when its
stdin closes (its parent shut down or died), after exporting what it read.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
from typing import BinaryIO

import msgspec
from opentelemetry.exporter.otlp.common.http import _OTLPHTTPClient
from opentelemetry.sdk.trace import SpanLimits

from infrastructure import tracing
from infrastructure.logs import configure_logging
from infrastructure.otlp_wire import Encoder
from infrastructure.span_records import DECODER, Readable

log = logging.getLogger("chronicle.span_export")


def export(lines: BinaryIO) -> None:
    """Export every record of ``lines`` until it ends."""
    exporters = tracing.exporters(os.environ)
    # OTLP requests are written from the records; other exporters take the SDK's spans.
    otlp = [e for e in exporters if isinstance(getattr(e, "_client", None), _OTLPHTTPClient)]
    others = [e for e in exporters if e not in otlp]
    limits = SpanLimits()
    resources = {role: tracing.resource_of(role, os.environ) for role in tracing.ROLES}
    encoder = Encoder({role: r.attributes for role, r in resources.items()}, limits)
    readable = Readable(resources.__getitem__, limits)
    size = int(os.environ.get("OTEL_BSP_MAX_EXPORT_BATCH_SIZE") or 512)
    try:
        for line in lines:
            try:
                records = DECODER.decode(line)
            except msgspec.DecodeError as error:  # never from a Chronicle process
                log.error("span records dropped: %s", error)
                continue
            for start in range(0, len(records), size):
                batch = records[start : start + size]
                if otlp:
                    request = encoder.request(batch)
                    for exporter in otlp:
                        exporter._client.export(request)  # type: ignore[attr-defined]
                if others:
                    spans = readable.spans(batch)
                    for exporter in others:
                        exporter.export(spans)
    finally:
        for exporter in exporters:
            exporter.shutdown()


def main() -> None:
    # The parent's Ctrl-C or SIGTERM reaches this process too; it ends when the parent
    # has shipped its last spans and closed the pipe, not before.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    # It writes to its parent's stderr, as its parent logs (it was checked there).
    configure_logging(
        os.environ.get("CHRONICLE_LOG_LEVEL") or "info", os.environ.get("CHRONICLE_LOG_FORMAT")
    )
    export(sys.stdin.buffer)


if __name__ == "__main__":
    main()
