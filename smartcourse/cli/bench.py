"""`smartcourse bench`: the benchmark suite against the real local stack."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def bench(
    names: Annotated[list[str] | None, typer.Argument(
        help="Benchmarks to run (default: all).", show_default=False)] = None,
    scale: Annotated[str, typer.Option(
        help="small: every path in under 3 minutes; full: stable figures, up to 20.")] = "small",
    out: Annotated[Path | None, typer.Option(help="Write the results as JSON here.")] = None,
) -> None:
    """Measure every hot path beside its raw anchor in the same run; print a table."""
    from bench import suite
    from bench.figures import Scale
    from bench.neighbours import Neighbours

    neighbours = Neighbours()

    try:
        outcomes = suite.run(names or [], Scale(scale), out)
    except ValueError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None
    typer.echo(suite.table(outcomes))
    typer.echo(neighbours.table())
    failed = [o for o in outcomes if o.error]
    # Last, so a log that keeps only its tail still says why each failure happened.
    for outcome in failed:
        typer.echo(f"\n--- {outcome.name} failed; the end of its output:\n"
                   f"{outcome.error[-1500:]}")
    if failed:
        raise typer.Exit(1)
