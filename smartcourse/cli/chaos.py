"""`smartcourse chaos run`: the chaos suite (tests/chaos) and its report table."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Annotated

import typer

from smartcourse.settings import PROJECT_ROOT, Settings

app = typer.Typer(help="Faults under load, the invariants after each, recovery times.",
                  no_args_is_help=True)


@app.command()
def run(
    scale: Annotated[str, typer.Option(help="small: CI's budget; full: a longer load.")] = "small",
    only: Annotated[str | None, typer.Option("-k", help="Only faults matching (pytest -k).")
                    ] = None,
) -> None:
    """Run every fault one at a time under load; print fault, recovery time and problems."""
    if scale not in ("small", "full"):
        typer.echo("error: chaos: --scale is small or full", err=True)
        raise typer.Exit(2)
    report = Settings().data_dir / "chaos" / "report.jsonl"
    before = report.read_text().count("\n") if report.exists() else 0
    code = subprocess.call(
        [sys.executable, "-m", "pytest", "-q", str(PROJECT_ROOT / "tests" / "chaos"),
         *(["-k", only] if only else [])], cwd=PROJECT_ROOT,
        env={**os.environ, "SMARTCOURSE_CHAOS_SCALE": scale})
    rows = [json.loads(line) for line in (report.read_text().splitlines()[before:]
                                          if report.exists() else [])]
    typer.echo(table(rows))
    raise typer.Exit(code)


def table(rows: list[dict[str, object]]) -> str:
    lines = ["| fault | fault lasted (s) | recovery (s) | commands | answers | invariants |",
             "| --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        answers = ", ".join(f"{k}: {v}" for k, v in sorted(r["statuses"].items()))  # type: ignore[union-attr]
        lines.append(f"| {r['fault']} | {r['fault_seconds']} | {r['recovery_seconds']} | "
                     f"{r['commands']} | {answers} | "
                     f"{'held' if not r['problems'] else '; '.join(r['problems'])} |")
    return "\n".join(lines)
