"""How every `shifu` command reports an error a user can fix: one line on stderr, exit 2."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import typer
from rich.console import Console

from retriever.models.encoder import EncoderError
from retriever.ranking.modes import SearchError
from retriever.store.errors import StoreError
from service.auth import KeyFileError

err = Console(stderr=True)


@contextmanager
def fail_cleanly() -> Iterator[None]:
    try:
        yield
    except (StoreError, EncoderError, SearchError, ValueError, KeyFileError) as exc:
        err.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from exc
