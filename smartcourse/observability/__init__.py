"""What every process shares to be observed: JSON logs, HTTP metrics and access logs, health
probes and tracing. `smartcourse.observability.JsonFormatter` is named in logging configs."""

from smartcourse.observability.logs import (
    CORRELATION_ID,
    JsonFormatter,
    configure_logging,
    log_config,
    trace_fields,
)

__all__ = ["CORRELATION_ID", "JsonFormatter", "configure_logging", "log_config", "trace_fields"]
