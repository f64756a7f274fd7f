"""`shifu backup DEST` and `shifu restore SRC --home NEW`: a consistent copy of a live home.

A backup holds the live index generation (metadata, BM25, vectors), the API keys, feedback,
the audit log, the home's glossary file, uploaded originals, tuned models and the link secret,
under DEST/home/, with DEST/backup.json listing every file's size and SHA-256. It is taken
while the service serves and while an ingest runs: a generation is never changed once live,
and the SQLite files are copied by SQLite's online backup. A restore verifies every checksum
before it writes anything, and refuses a home that is not empty. Both build in a staging
folder renamed into place, so a crash leaves no half-written backup or home."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import time
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from retriever.fsutil import file_sha256, fsync_tree
from retriever.models.tuned import tuned_root
from retriever.store import layout
from retriever.store.manifest import read_manifest
from retriever.store.metadata import MetadataDB
from retriever.store.milvus.backend import MilvusBackend
from retriever.store.milvus.collection import MilvusTarget
from service.audit import AUDIT_DB
from service.feedback import FEEDBACK_DB
from service.settings import Settings

BACKUP_MANIFEST = "backup.json"
FORMAT = 1
HOME = "home"  # DEST/home/ mirrors the home's layout
SQLITE_FILES = (FEEDBACK_DB, AUDIT_DB)
LINK_SECRET = "link-secret"


class BackupError(RuntimeError):
    """A backup that cannot be taken or restored: said why, nothing half-written left."""


@dataclass(frozen=True)
class BackupReport:
    folder: Path
    generation: str | None
    files: int
    bytes: int
    seconds: float


def backup(settings: Settings, dest: Path) -> BackupReport:
    began = time.perf_counter()
    _check_empty(dest, "backup folder")
    staging = _staging(dest)
    try:
        copied = staging / HOME
        generation = _copy_index(settings, copied / layout.INDEX_DIR)
        _copy_home_files(settings, copied)
        files = _checksums(copied)
        _write_manifest(staging, settings, generation, files)
        fsync_tree(staging)
        _move_into_place(staging, dest)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    size = sum(entry["size"] for entry in files.values())
    return BackupReport(dest, generation, len(files), size, time.perf_counter() - began)


def _copy_index(settings: Settings, index: Path, attempts: int = 5) -> str | None:
    """The live generation; for a Milvus home, its rows exported from the collection too
    (copied again when a newer commit deleted some of them meanwhile)."""
    root = layout.index_root(settings.home)
    for _ in range(attempts):
        generation = layout.copy_live(root, index)
        if settings.store != "milvus" or generation is None:
            return generation
        from retriever.store.milvus.export import ExportChanged, export_rows

        dim = read_manifest(index / generation).dim
        collection = MilvusBackend(settings.milvus_target()).collection(dim)
        try:
            export_rows(collection, index / generation, index / layout.MILVUS_EXPORT)
            return generation
        except ExportChanged:
            shutil.rmtree(index, ignore_errors=True)
    raise BackupError(f"the live generation kept changing while its vectors were exported "
                      f"from Milvus ({attempts} tries); try again when ingests are quieter")


def _copy_home_files(settings: Settings, copied: Path) -> None:
    home = settings.home
    for name in SQLITE_FILES:
        if (home / name).is_file():
            _copy_sqlite(home / name, copied / name)
    if settings.key_path.is_file():
        shutil.copy2(settings.key_path, copied / "keys.yaml")
    if (home / LINK_SECRET).is_file():
        shutil.copy2(home / LINK_SECRET, copied / LINK_SECRET)
    skip = shutil.ignore_patterns(".staging", ".*.tmp-*")  # uploads and tunes in progress
    for folder in (settings.uploads_dir, home / "glossary", tuned_root(home)):
        if folder.is_dir():
            target = copied / folder.relative_to(home)
            shutil.copytree(folder, target, ignore=skip, dirs_exist_ok=True)


def _copy_sqlite(source: Path, target: Path) -> None:
    """SQLite's online backup: a consistent copy while the service writes to it."""
    target.parent.mkdir(parents=True, exist_ok=True)
    # a connection's `with` only commits; closing() closes both
    with closing(sqlite3.connect(source, timeout=30)) as live, \
            closing(sqlite3.connect(target)) as copy:  # fmt: skip
        live.backup(copy)


def _checksums(folder: Path) -> dict[str, dict[str, Any]]:
    files = [path for path in sorted(folder.rglob("*")) if path.is_file()]
    return {path.relative_to(folder).as_posix(): {"size": path.stat().st_size,
                                                  "sha256": file_sha256(path)}
            for path in files}  # fmt: skip


def _write_manifest(
    staging: Path, settings: Settings, generation: str | None, files: dict[str, Any]
) -> None:
    index = layout.index_root(staging / HOME)
    manifest = read_manifest(index / generation) if generation else None
    record = {"format": FORMAT, "created_at": time.time(),
              "source_home": str(settings.home.resolve()),
              "generation": generation, "model": manifest.model if manifest else None,
              "chunks": manifest.count if manifest else 0, "store": settings.store,
              "collection": settings.milvus_collection if settings.store == "milvus" else None,
              "files": files}  # fmt: skip
    (staging / BACKUP_MANIFEST).write_text(json.dumps(record, indent=1, ensure_ascii=False))


def restore(source: Path, settings: Settings) -> BackupReport:
    """Verify the backup at `source`, then make it the home at `settings.home` (empty or
    absent); a Milvus home's vectors go into `settings`' Milvus, under the backed-up
    collection's name (which must be new or empty there)."""
    began, home = time.perf_counter(), settings.home
    record = read_backup(source)
    corrupt = verify(source, record)
    if corrupt:
        raise BackupError(f"the backup at {source} is damaged: {'; '.join(corrupt[:5])}"
                          f"{f' (and {len(corrupt) - 5} more)' if len(corrupt) > 5 else ''}")
    _check_empty(home, "home")
    staging = _staging(home)
    try:
        shutil.copytree(source / HOME, staging, dirs_exist_ok=True)
        _move_home_paths(staging, record, home)
        if record.get("store") == "milvus":
            _import_vectors(staging, settings.milvus_target(record["collection"]))
        fsync_tree(staging)
        _move_into_place(staging, home)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    size = sum(entry["size"] for entry in record["files"].values())
    return BackupReport(home, record["generation"], len(record["files"]), size,
                        time.perf_counter() - began)  # fmt: skip


def _move_home_paths(staging: Path, record: dict[str, Any], home: Path) -> None:
    """Uploaded originals (and the added-glossary file) were stored under the old home: the
    restored index finds them under the new one, so they can be fetched and updated."""
    generation = record.get("generation")
    if generation:
        meta = MetadataDB(layout.index_root(staging) / generation / layout.METADATA)
        try:
            meta.move_paths(record["source_home"], str(home.resolve()))
        finally:
            meta.close()


def _import_vectors(staging: Path, target: MilvusTarget) -> None:
    from retriever.store.milvus.export import import_rows

    export = layout.index_root(staging) / layout.MILVUS_EXPORT
    import_rows(staging, export, target)
    export.unlink()  # in Milvus now; the home does not keep a second copy


def read_backup(source: Path) -> dict[str, Any]:
    try:
        record: dict[str, Any] = json.loads((source / BACKUP_MANIFEST).read_text())
    except FileNotFoundError as exc:
        raise BackupError(f"{source} is not a Shifu backup (no {BACKUP_MANIFEST})") from exc
    except (OSError, ValueError) as exc:
        raise BackupError(f"cannot read {source / BACKUP_MANIFEST}: {exc}") from exc
    if record.get("format") != FORMAT or not isinstance(record.get("files"), dict):
        raise BackupError(f"{source} is a backup of format {record.get('format')!r}; this "
                          f"Shifu reads format {FORMAT}")  # fmt: skip
    return record


def verify(source: Path, record: dict[str, Any]) -> list[str]:
    """What does not match the manifest: missing files, other sizes, other checksums."""
    problems = []
    for name, entry in record["files"].items():
        path = source / HOME / name
        if not path.is_file():
            problems.append(f"{name} is missing")
        elif path.stat().st_size != entry["size"] or file_sha256(path) != entry["sha256"]:
            problems.append(f"{name} does not match its checksum")
    return problems


def _check_empty(folder: Path, what: str) -> None:
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise BackupError(f"the {what} {folder} is not empty; give a new or empty folder")


def _staging(final: Path) -> Path:
    staging = final.parent / f".{final.name}.tmp-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    return staging


def _move_into_place(staging: Path, final: Path) -> None:
    if final.is_dir():  # empty, checked before: replaced by the complete copy
        final.rmdir()
    os.replace(staging, final)
