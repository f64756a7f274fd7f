"""`shifu migrate`: move an existing home's vectors to another store without re-embedding."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

from retriever.migrate import migrate_to_milvus
from retriever.milvus_backend import MilvusBackend
from service.cli_errors import err, fail_cleanly
from service.settings import Settings


def migrate_cmd(
    to: Annotated[Literal["milvus"], typer.Option("--to", help="the store to move vectors to")],
    home: Annotated[Path | None, typer.Option("--home", help="data home")] = None,
) -> None:
    """Copy this home's FAISS vectors and metadata into Milvus (SHIFU_MILVUS_URI,
    SHIFU_MILVUS_COLLECTION ...); resumable. Then run with SHIFU_STORE=milvus."""
    settings = Settings(home=home) if home else Settings()
    target = settings.milvus_target()
    columns = ("{task.description}", BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with fail_cleanly(), Progress(*columns, console=err, transient=True) as progress:
        task = progress.add_task(f"copying to {target.collection}", total=None)
        count = migrate_to_milvus(
            settings.home, MilvusBackend(target),
            lambda done, total: progress.update(task, completed=done, total=total),
        )  # fmt: skip
    typer.echo(
        f"moved {count} chunks to Milvus collection {target.collection!r} at {target.uri}; "
        "serve and ingest with SHIFU_STORE=milvus from now on"
    )
