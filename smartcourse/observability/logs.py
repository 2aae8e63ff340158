"""Structured JSON logs, the same in every process: one object per line with time, level,
logger, message, the correlation id of the request or event being handled and the trace and
span ids of the current OpenTelemetry span."""

from __future__ import annotations

import json
import logging
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from opentelemetry import trace

# Attributes every LogRecord has; anything else was passed through `extra=` and is logged.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message"}

# The correlation id of the command or event this task is handling (set by the HTTP
# middleware and by consumers); logged on every line written meanwhile.
CORRELATION_ID: ContextVar[str | None] = ContextVar("smartcourse_correlation_id", default=None)


def trace_fields() -> dict[str, str]:
    """The current span's trace and span ids in Zipkin's hex form, or nothing."""
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return {}
    return {"trace_id": format(context.trace_id, "032x"),
            "span_id": format(context.span_id, "016x")}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, correlation and trace ids, and
    the record's extras (event_id, … passed with `extra=`)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        correlation_id = CORRELATION_ID.get()
        if correlation_id is not None:
            entry["correlation_id"] = correlation_id
        entry.update(trace_fields())
        entry.update({k: v for k, v in vars(record).items()
                      if k not in _STANDARD and v is not None})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


QUIET = {"httpx": "WARNING", "httpx2": "WARNING", "httpcore": "WARNING",
         "httpcore2": "WARNING",
         # uvicorn's own access log stays off: smartcourse.access logs every request instead
         # (with route, status, latency and ids), see smartcourse/observability/http.py.
         "uvicorn.access": "WARNING"}


def configure_logging(level: str = "info") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    logging.basicConfig(level=level.upper(), handlers=[handler], force=True)
    for chatty, chatty_level in QUIET.items():  # one line per HTTP call
        logging.getLogger(chatty).setLevel(chatty_level)


def log_config(level: str = "info") -> dict[str, Any]:
    """A logging.config dict (for uvicorn and Faust) that writes JSON lines to stderr."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "smartcourse.observability.JsonFormatter"}},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "json",
                                "stream": "ext://sys.stderr"}},
        "root": {"handlers": ["stderr"], "level": level.upper()},
        "loggers": {name: {"level": chatty_level} for name, chatty_level in QUIET.items()},
    }
