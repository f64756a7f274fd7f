"""`shifu feedback export DIR`: what operators said helped, as a set `shifu eval` measures."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from service.cli_errors import fail_cleanly
from service.feedback import FeedbackStore, export_beir
from service.settings import Settings

feedback_app = typer.Typer(help="Operators' feedback on passages.", no_args_is_help=True)


@feedback_app.command("export")
def export(
    folder: Annotated[Path, typer.Argument(help="where to write the BEIR-layout set")],
    home: Annotated[Path | None, typer.Option("--home", help="data home")] = None,
) -> None:
    """Write the passages judged helpful (latest verdict per question and passage) as
    queries.jsonl + qrels/test.tsv, with the current index as corpus.jsonl."""
    settings = Settings(home=home) if home is not None else Settings()
    store = FeedbackStore(settings.home / "feedback.sqlite")
    verdicts = store.all()
    store.close()
    from service.cli import make_runtime  # the seam tests replace

    with fail_cleanly(), make_runtime(settings).reading() as snapshot:
        queries, judgements = export_beir(verdicts, snapshot, folder)
    typer.echo(f"wrote {queries} questions and {judgements} judgements to {folder}; "
               f"measure with `shifu eval {folder}`")  # fmt: skip
    if not queries:
        typer.echo("no passage has been judged helpful yet", err=True)
