"""Filesystem steps of atomic writes: an exclusive lock file, fsync, write-then-rename; and a
file's SHA-256, read in blocks."""

from __future__ import annotations

import fcntl
import hashlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import IO

BLOCK_BYTES = 1 << 20


def file_blocks(path: Path) -> Iterator[bytes]:
    """A file's bytes in blocks, for hashing what may not fit in memory at once."""
    with path.open("rb") as handle:
        yield from iter(lambda: handle.read(BLOCK_BYTES), b"")


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    for block in file_blocks(path):
        digest.update(block)
    return digest.hexdigest()


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


def atomic_write(path: Path, content: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")  # the name temp_files finds
    with tmp.open("w", encoding="utf-8") as handle:
        handle.write(content)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def temp_files(path: Path) -> list[Path]:
    """Temporary files an interrupted atomic_write of `path` left."""
    return list(path.parent.glob(f".{path.name}.tmp-*"))


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
