"""`smartcourse worker`: run the Faust stream worker (Kafka -> read models) until SIGTERM.

The same as `faust -A streams.app worker -l info`. The app is declared at import from
settings, so the options here become SMARTCOURSE_* variables before it is imported.
"""

from __future__ import annotations

import os
from typing import Annotated

import typer


def worker(
    app_id: Annotated[str | None, typer.Option(
        help="Consumer group (default: settings.worker_app_id).")] = None,
    topic_prefix: Annotated[str | None, typer.Option(
        help="Topics are PREFIX.<aggregate type>, as the relay's (default: settings).")] = None,
    metrics_port: Annotated[int | None, typer.Option(
        help="Prometheus port (default: settings.worker_metrics_port; 0: none).")] = None,
    log_level: Annotated[str, typer.Option()] = "info",
) -> None:
    """Feed the projections from Kafka: at-least-once, idempotent by aggregate version."""
    for name, value in (("WORKER_APP_ID", app_id), ("WORKER_TOPIC_PREFIX", topic_prefix),
                        ("WORKER_METRICS_PORT", metrics_port)):
        if value is not None:
            os.environ[f"SMARTCOURSE_{name}"] = str(value)
    from faust import Worker

    from streams.app import app

    app.finalize()
    app.discover()
    Worker(app, loglevel=log_level, quiet=True).execute_from_commandline()
