"""How Chronicle's processes log: structlog lines on stderr.

Tracebacks are printed without the values of local variables: those include request
headers (an API key) and payloads (another tenant's data), which a log must not hold.
"""

from __future__ import annotations

import sys

import structlog


def configure_logging() -> None:
    defaults = structlog.get_config()["processors"]
    structlog.configure(
        processors=[
            *(p for p in defaults if not isinstance(p, structlog.dev.ConsoleRenderer)),
            structlog.dev.ConsoleRenderer(
                colors=sys.stderr.isatty(), exception_formatter=structlog.dev.plain_traceback
            ),
        ],
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
    )
