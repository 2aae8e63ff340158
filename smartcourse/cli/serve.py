"""`smartcourse command-api` and `smartcourse query-api`: serve the HTTP APIs with uvicorn."""

from __future__ import annotations

from typing import Annotated

import typer
import uvicorn

from smartcourse.observability import log_config
from smartcourse.settings import Settings


def _refuse_unsafe(settings: Settings) -> None:
    """Exit with one line if the signing keys are development keys outside dev (or none)."""
    from identity.errors import UnsafeConfiguration
    from smartcourse.bootstrap import open_keyring

    try:
        open_keyring(settings)
    except UnsafeConfiguration as error:
        typer.echo(f"error: refusing to start: {error}", err=True)
        raise typer.Exit(2) from None


def command_api(
    workers: Annotated[int | None, typer.Option(help="Processes (default: settings).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default: settings).")] = None,
) -> None:
    """Serve the command API (writes) on the loopback host."""
    settings = Settings()
    _refuse_unsafe(settings)
    uvicorn.run(
        "commands.api.app:create_app", factory=True, host=settings.host,
        port=port or settings.command_api_port,
        workers=workers or settings.command_api_workers,
        access_log=False, log_config=log_config("info"), loop="uvloop", http="httptools",
    )


def query_api(
    workers: Annotated[int | None, typer.Option(help="Processes (default: settings).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default: settings).")] = None,
) -> None:
    """Serve the query API (reads over the projections) on the loopback host."""
    settings = Settings()
    _refuse_unsafe(settings)
    uvicorn.run(
        "query_api.app:create_app", factory=True, host=settings.host,
        port=port or settings.query_api_port,
        workers=workers or settings.query_api_workers,
        access_log=False, log_config=log_config("info"), loop="uvloop", http="httptools",
    )


def assistant_api(
    port: Annotated[int | None, typer.Option(help="Port (default: settings).")] = None,
) -> None:
    """Serve the learning assistant (questions about courses) on the loopback host."""
    settings = Settings()
    uvicorn.run(
        "assistant.api.app:create_app", factory=True, host=settings.host,
        port=port or settings.assistant_api_port, workers=1,
        access_log=False, log_config=log_config("info"), loop="uvloop", http="httptools",
    )


def console(
    port: Annotated[int | None, typer.Option(help="Port (default: settings).")] = None,
) -> None:
    """Serve the operator's web console (admins only) on the loopback host."""
    settings = Settings()
    _refuse_unsafe(settings)
    uvicorn.run(
        "operations.console.app:create_app", factory=True, host=settings.host,
        port=port or settings.console_port, workers=1,
        access_log=False, log_config=log_config("info"), loop="uvloop", http="httptools",
    )
