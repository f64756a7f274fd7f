"""`shifu watch`: keep the index in step with folders engineers edit (an SOP share)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer

from service import cli_common
from service.cli_common import HomeOption, make_settings
from service.cli_errors import err, fail_cleanly

DebounceOption = Annotated[
    float | None,
    typer.Option("--debounce", min=0.05, help="quiet seconds before a change is ingested "
                 "(default $SHIFU_WATCH_DEBOUNCE, else 2)"),
]  # fmt: skip
PollOption = Annotated[
    float | None,
    typer.Option("--poll", min=0, help="scan every N seconds instead of waiting for events, "
                 "for network shares (default $SHIFU_WATCH_POLL, else 0: events)"),
]  # fmt: skip
GraceOption = Annotated[
    float | None,
    typer.Option("--grace", min=0, help="keep a vanished folder's documents this many seconds "
                 "(default $SHIFU_WATCH_GRACE, else 300)"),
]  # fmt: skip


def watch_cmd(
    paths: Annotated[list[Path], typer.Argument(help="folders to watch (recursive)")],
    home: HomeOption = None,
    debounce: DebounceOption = None,
    poll: PollOption = None,
    grace: GraceOption = None,
) -> None:
    """Ingest what changes under PATHs (added, changed, renamed, removed) until Ctrl-C; each
    ingest is logged on stderr. Runs beside `shifu serve`, which follows the new generations."""
    from service.watcher import FolderWatcher, WatchConfig

    check_folders(paths)
    settings = make_settings(home)
    config = WatchConfig.of(settings, debounce=debounce, poll=poll, grace=grace)
    watcher = FolderWatcher(cli_common.make_runtime(settings), paths, config)
    log_to_stderr()
    how = f"scanning every {config.poll:g} s" if config.poll else "on file events"
    err.print(f"watching {len(paths)} folder(s) {how}, debounce {config.debounce:g} s, grace "
              f"{config.grace:g} s; Ctrl-C stops", highlight=False)  # fmt: skip
    with fail_cleanly():
        try:
            watcher.run()
        except KeyboardInterrupt:
            err.print("stopped")


def check_folders(paths: list[Path]) -> None:
    """A watch starts only on folders that are there (a typo must not watch nothing)."""
    missing = [str(path) for path in paths if not path.is_dir()]
    if missing:
        err.print(f"[red]error:[/red] not a folder: {', '.join(missing)}", highlight=False)
        raise typer.Exit(2)


def log_to_stderr() -> None:
    """The watcher's log lines, as text, on stderr (stdout stays free for output)."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    watch = logging.getLogger("shifu.watch")
    watch.handlers[:] = [handler]
    watch.setLevel(logging.INFO)
    watch.propagate = False
