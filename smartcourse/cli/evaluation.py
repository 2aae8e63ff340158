"""`smartcourse eval assistant|calibrate`: the assistant on its shipped evaluation set."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated

import typer

from smartcourse.settings import Settings

app = typer.Typer(help="Evaluate the learning assistant.", no_args_is_help=True)


@app.command("assistant")
def assistant(
    providers: Annotated[str, typer.Option(help="Comma-separated providers to evaluate.")]
    = "extractive",
    out: Annotated[Path | None, typer.Option(help="Write the report as JSON here.")] = None,
) -> None:
    """Retrieval hit@1/hit@5, grounded-sentence, correct-refusal and hallucination rates,
    p50/p95 first-token and total latency per provider (needs `smartcourse app up`)."""
    from assistant.eval.run import evaluate

    names = [n.strip() for n in providers.split(",") if n.strip()]
    report = asyncio.run(evaluate(Settings(), names))
    text = json.dumps(report, indent=2)
    typer.echo(text)
    if out:
        out.write_text(text + "\n")


@app.command("calibrate")
def calibrate() -> None:
    """The relevance threshold that best separates answerable from off-topic questions of
    the shipped set (compare with SMARTCOURSE_ASSISTANT_MIN_SIMILARITY)."""
    from assistant.eval.calibration import calibrate_on_shipped_set
    from projections.content.embeddings import shared_encoder

    settings = Settings()
    result = calibrate_on_shipped_set(shared_encoder(settings.embedding_model))
    typer.echo(json.dumps({**vars(result), "configured": settings.assistant_min_similarity}))
