"""`shifu backup DEST` and `shifu restore SRC --home NEW` (service/backup.py)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from service.backup import BackupError, BackupReport, backup, restore
from service.cli_common import HomeOption, make_settings
from service.cli_errors import err, fail_cleanly


@contextmanager
def _reported() -> Iterator[None]:
    try:
        with fail_cleanly():
            yield
    except (BackupError, OSError) as exc:
        err.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from exc


def backup_cmd(
    dest: Annotated[Path, typer.Argument(help="a new or empty folder for the backup")],
    home: HomeOption = None,
) -> None:
    """Copy the live home (index generation, keys, feedback, audit log, glossary, uploads,
    tuned models) to DEST with a manifest of checksums; safe while serving or ingesting."""
    with _reported():
        report = backup(make_settings(home), dest)
    _print(report, "backed up")


def restore_cmd(
    source: Annotated[Path, typer.Argument(help="a folder `shifu backup` wrote")],
    home: Annotated[Path, typer.Option("--home", help="the new home (absent or empty)")],
) -> None:
    """Verify every checksum of a backup, then make it the home at --home (a Milvus home's
    vectors go into SHIFU_MILVUS_URI, under the backed-up collection's name)."""
    with _reported():
        report = restore(source, make_settings(home))
    _print(report, "restored")


def _print(report: BackupReport, done: str) -> None:
    generation = report.generation or "no index yet"
    typer.echo(f"{done} {report.files} files ({report.bytes / 1e6:.1f} MB, {generation}) "
               f"to {report.folder} in {report.seconds:.1f} s")  # fmt: skip
