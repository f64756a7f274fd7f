"""Filesystem steps of an atomic generation swap: the writer lock, fsync, rename."""

from __future__ import annotations

import fcntl
import os
import shutil
from pathlib import Path
from typing import IO


class LockBusy(Exception):
    """Another process holds the lock."""


def acquire_lock(path: Path) -> IO[str]:
    handle = path.open("a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError as exc:
        handle.close()
        raise LockBusy(str(path)) from exc
    return handle


def remove_stale_staging(root: Path, live: str | None) -> None:
    """What a crashed writer left (we hold the lock, so none of it is in use): staging
    folders, a half-written CURRENT, a renamed generation that CURRENT never came to name."""
    for leftover in root.glob(".gen-*.tmp-*"):
        shutil.rmtree(leftover, ignore_errors=True)
    for leftover in root.glob(".CURRENT.tmp-*"):
        leftover.unlink(missing_ok=True)
    for folder in root.glob("gen-*"):
        if live is not None and folder.is_dir() and folder.name > live:
            shutil.rmtree(folder, ignore_errors=True)


def prune_generations(root: Path, keep: int) -> None:
    generations = sorted(p for p in root.glob("gen-*") if p.is_dir())
    for old in generations[:-keep]:
        shutil.rmtree(old, ignore_errors=True)


def atomic_write(path: Path, content: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with tmp.open("w") as handle:
        handle.write(content)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def fsync_tree(folder: Path) -> None:
    for item in folder.iterdir():
        if item.is_dir():
            fsync_tree(item)
            continue
        with item.open("rb") as handle:
            os.fsync(handle.fileno())
    _fsync_dir(folder)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
