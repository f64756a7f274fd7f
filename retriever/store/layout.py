"""The on-disk layout of a home's index, and the two steps every writer of it shares: holding
the writer lock, and publishing a staged generation. The one module that spells these names.

    HOME/index/
      CURRENT                  name of the live generation (replaced by rename)
      gen-000007/              one generation, never changed once CURRENT names it:
        manifest.json          model, dimension, counts, format, where the vectors are
        meta.sqlite            documents and chunks
        sparse/                the BM25 index
        vectors.faiss          the vectors (FAISS backend)
        search.faiss           those vectors with the language direction projected out
        language_direction.npy that direction (an index with enough zh and en chunks)
        vector_sync.json       deletes and flag changes to apply to Milvus (Milvus backend)
        language_sums.npz      per-script vector sums the direction follows from (Milvus)
      .gen-000008.tmp-PID/     a writer's staging folder, renamed to gen-000008 when complete
      .writer.lock             held by the one writer (CLI ingest, service, migrate)
      milvus-collection.json   the Milvus collection this home writes to
      migrate-milvus.json      checkpoint of an interrupted `shifu migrate --to milvus`
      milvus-export.npz        in a backup only: the live generation's rows from Milvus

A writer builds the next generation in a staging folder beside the live one and only then
points CURRENT at it, so a crash at any point leaves the previous generation loadable.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import IO

from retriever.fsutil import LockBusy, acquire_lock, atomic_write, fsync_tree, temp_files
from retriever.store.errors import StoreError, WriterBusyError
from retriever.store.faults import crash_point

INDEX_DIR = "index"
CURRENT = "CURRENT"
MANIFEST = "manifest.json"
METADATA = "meta.sqlite"
SPARSE_DIR = "sparse"
RAW_VECTORS = "vectors.faiss"
SEARCH_VECTORS = "search.faiss"  # only when projected; otherwise the raw vectors are searched
DIRECTION = "language_direction.npy"
MILVUS_SYNC = "vector_sync.json"
LANGUAGE_SUMS = "language_sums.npz"
MILVUS_CLAIM = "milvus-collection.json"
MIGRATE_CHECKPOINT = "migrate-milvus.json"
MILVUS_EXPORT = "milvus-export.npz"  # a backup's copy of a Milvus home's vectors
WRITER_LOCK = ".writer.lock"
OCR_CACHE = "ocr-cache"  # OCR results by page pixels, shared by every generation
_PREFIX = "gen-"
KEEP_GENERATIONS = 2  # the live one and its predecessor, which open readers may still use


def index_root(home: Path) -> Path:
    return home / INDEX_DIR


def generation_name(number: int) -> str:
    return f"{_PREFIX}{number:06d}"


def generation_folder(root: Path, number: int) -> Path:
    return root / generation_name(number)


def staging_folder(root: Path, number: int, tag: str) -> Path:
    """Where a writer (`tag`: its pid, or what it does) builds generation `number`."""
    return root / f".{generation_name(number)}.tmp-{tag}"


def live_name(root: Path) -> str | None:
    """The generation CURRENT names, None before the first commit."""
    try:
        name = (root / CURRENT).read_text().strip()
    except FileNotFoundError:
        return None
    return name or None


def writer_lock(root: Path) -> IO[str]:
    """The one writer's lock (closing the handle frees it); WriterBusyError when taken."""
    root.mkdir(parents=True, exist_ok=True)
    try:
        return acquire_lock(root / WRITER_LOCK)
    except LockBusy as exc:
        raise WriterBusyError(
            f"another ingest is writing to {root}; wait for it to finish"
        ) from exc


def remove_stale_staging(root: Path, live: str | None) -> None:
    """What a crashed writer left (we hold the lock, so none of it is in use): staging
    folders, a half-written CURRENT, a renamed generation that CURRENT never came to name."""
    for leftover in root.glob(f".{_PREFIX}*.tmp-*"):
        shutil.rmtree(leftover, ignore_errors=True)
    for leftover in temp_files(root / CURRENT):
        leftover.unlink(missing_ok=True)
    for folder in root.glob(f"{_PREFIX}*"):
        if live is not None and folder.is_dir() and folder.name > live:
            shutil.rmtree(folder, ignore_errors=True)


def publish(
    root: Path, staging: Path, number: int, after_current: Callable[[Path], None] | None = None
) -> Path:
    """Make a complete staging folder generation `number` and the live one: fsync, rename,
    switch CURRENT, then `after_current` (work that may only happen once it is live) and
    pruning. Called with the writer lock held; every step has a crash point."""
    fsync_tree(staging)
    crash_point("commit:fsynced")
    final = generation_folder(root, number)
    shutil.rmtree(final, ignore_errors=True)  # leftover of a crash after rename, never live
    os.replace(staging, final)
    crash_point("commit:renamed")
    atomic_write(root / CURRENT, final.name)
    crash_point("commit:current")
    if after_current is not None:
        after_current(final)
    _prune(root, KEEP_GENERATIONS)
    crash_point("commit:pruned")
    return final


def _prune(root: Path, keep: int) -> None:
    generations = sorted(p for p in root.glob(f"{_PREFIX}*") if p.is_dir())
    for old in generations[:-keep]:
        shutil.rmtree(old, ignore_errors=True)


def copy_live(root: Path, target: Path, attempts: int = 5) -> str | None:
    """Copy the live generation, CURRENT naming it and the OCR cache into `target` (an empty
    folder), without the writer lock: a published generation never changes, so a copy that
    found every file of it is consistent. Only pruning removes one (after two more commits);
    a copy it cut short is made again from the new CURRENT. None for an empty index."""
    for _ in range(attempts):
        live = live_name(root)
        if live is None:
            return None
        copied = target / live
        try:
            shutil.copytree(root / live, copied)
        except (OSError, shutil.Error):  # pruned while we copied it
            shutil.rmtree(copied, ignore_errors=True)
            continue
        (target / CURRENT).write_text(live)
        if (root / OCR_CACHE).is_dir():  # a cache: what is there now is enough
            shutil.copytree(root / OCR_CACHE, target / OCR_CACHE, dirs_exist_ok=True,
                            ignore_dangling_symlinks=True)  # fmt: skip
        return live
    raise StoreError(f"the live generation of {root} changed {attempts} times while it was "
                     "copied; try again when ingests are quieter")  # fmt: skip
