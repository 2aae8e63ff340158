"""The `smartcourse` command: one entry point, one sub-command group per concern."""

from __future__ import annotations

import typer

from smartcourse.cli import (
    bench,
    chaos,
    demo,
    dlq,
    evaluation,
    identity,
    notifications,
    reconcile,
    relay,
    replay,
    serve,
    sql,
    stack,
    weaviate,
    worker,
)

app = typer.Typer(
    help="SmartCourse: event-sourced CQRS learning-platform backend.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@app.callback()
def _process() -> None:
    """Every process shows how often its keeper restarted it (smartcourse_process_restarts)."""
    from smartcourse.runtime import record_restarts
    from smartcourse.settings import Settings

    record_restarts(Settings())


app.add_typer(stack.app, name="stack")
app.add_typer(stack.app_processes, name="app")
app.command("command-api")(serve.command_api)
app.command("query-api")(serve.query_api)
app.command("assistant-api")(serve.assistant_api)
app.command("console")(serve.console)
app.command("relay")(relay.relay)
app.command("demo")(demo.demo)
app.command("bench")(bench.bench)
app.command("replay")(replay.replay)
app.command("worker")(worker.worker)
app.command("reconcile")(reconcile.reconcile)
app.add_typer(dlq.app, name="dlq")
app.add_typer(notifications.app, name="notifications")
app.add_typer(chaos.app, name="chaos")
sql.register(app)
app.add_typer(weaviate.app, name="weaviate")
app.add_typer(identity.users, name="users")
app.add_typer(identity.keys, name="keys")
app.add_typer(evaluation.app, name="eval")
