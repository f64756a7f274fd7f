"""`shifu migrate`: move an existing home's vectors to another store without re-embedding."""

from __future__ import annotations

from typing import Annotated, Literal

import typer

from retriever.store.milvus.backend import MilvusBackend
from retriever.store.milvus.migrate import migrate_to_milvus
from service.cli_common import HomeOption, make_settings, progress_bars
from service.cli_errors import fail_cleanly


def migrate_cmd(
    to: Annotated[Literal["milvus"], typer.Option("--to", help="the store to move vectors to")],
    home: HomeOption = None,
) -> None:
    """Copy this home's FAISS vectors and metadata into Milvus (SHIFU_MILVUS_URI,
    SHIFU_MILVUS_COLLECTION ...); resumable. Then run with SHIFU_STORE=milvus."""
    settings = make_settings(home)
    target = settings.milvus_target()
    with fail_cleanly(), progress_bars() as progress:
        task = progress.add_task(f"copying to {target.collection}", total=None)
        count = migrate_to_milvus(
            settings.home, MilvusBackend(target),
            lambda done, total: progress.update(task, completed=done, total=total),
        )  # fmt: skip
    typer.echo(
        f"moved {count} chunks to Milvus collection {target.collection!r} at {target.uri}; "
        "serve and ingest with SHIFU_STORE=milvus from now on"
    )
