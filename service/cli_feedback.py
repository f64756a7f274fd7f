"""`shifu feedback export DIR`: what operators said helped, as a set `shifu eval` measures."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from service import cli_common
from service.cli_common import HomeOption, make_settings
from service.cli_errors import fail_cleanly
from service.feedback import FEEDBACK_DB, FeedbackStore, export_beir

feedback_app = typer.Typer(help="Operators' feedback on passages.", no_args_is_help=True)


@feedback_app.command("export")
def export(
    folder: Annotated[Path, typer.Argument(help="where to write the BEIR-layout set")],
    home: HomeOption = None,
) -> None:
    """Write the passages judged helpful (latest verdict per question and passage) as
    queries.jsonl + qrels/test.tsv, with the current index as corpus.jsonl."""
    settings = make_settings(home)
    store = FeedbackStore(settings.home / FEEDBACK_DB)
    verdicts = store.all()
    store.close()
    with fail_cleanly(), cli_common.make_runtime(settings).reading() as snapshot:
        queries, judgements = export_beir(verdicts, snapshot, folder)
    typer.echo(f"wrote {queries} questions and {judgements} judgements to {folder}; "
               f"measure with `shifu eval {folder}`")  # fmt: skip
    if not queries:
        typer.echo("no passage has been judged helpful yet", err=True)
