"""What every `shifu` command shares: the --home and --json options, settings from them, the
runtime seam that tests replace, and progress bars on stderr."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

from service.cli_errors import err
from service.runtime import Runtime
from service.settings import Settings

HomeOption = Annotated[
    Path | None,
    typer.Option("--home", help="data home (default $SHIFU_HOME, else ./.shifu)"),
]
JsonOption = Annotated[bool, typer.Option("--json", help="print JSON instead of text")]


def make_settings(home: Path | None, **overrides: Any) -> Settings:
    """Settings from the environment, with --home and the options a command was given."""
    values = {k: v for k, v in overrides.items() if v is not None}
    if home is not None:
        values["home"] = home
    return Settings(**values)


def make_runtime(settings: Settings) -> Runtime:
    """The seam tests replace to run the CLI with a fake encoder: call it through this module
    (`cli_common.make_runtime(...)`), so a replacement is seen."""
    return Runtime(settings)


@contextmanager
def progress_bars() -> Iterator[Progress]:
    """Bars on stderr, gone when the work is done, so stdout stays the command's output."""
    columns = ("{task.description}", BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=err, transient=True) as progress:
        yield progress


class Bar:
    """Adapts a rich progress bar to the pipeline's Progress protocol."""

    def __init__(self, progress: Progress, label: str = "embedding") -> None:
        self._progress = progress
        self._label = label
        self._task: Any = None  # shown from the first start: a step that never runs shows none

    def start(self, total: int) -> None:
        if self._task is None:
            self._task = self._progress.add_task(self._label, total=total)
        else:
            self._progress.update(self._task, total=total)

    def advance(self, n: int) -> None:
        if self._task is None:
            self.start(0)
        self._progress.advance(self._task, n)
