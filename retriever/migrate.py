"""Copy a FAISS home into a Milvus collection without re-embedding: the stored vectors and their
metadata go to Milvus, then a new generation that reads them from there becomes current.

Resumable: rows are upserted by chunk id in id order and a checkpoint under the index folder
records the last id written, so a rerun after an interruption continues where it stopped (and
upserting a row twice is harmless). The FAISS generation stays as the predecessor until pruned.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np

from retriever.faiss_index import VectorIndex
from retriever.fsutil import LockBusy, acquire_lock, atomic_write, fsync_tree
from retriever.generation import DIRECTION_FILE, SPARSE_DIR
from retriever.manifest import Manifest, StoreError, WriterBusyError, read_manifest
from retriever.metadata import MetadataDB
from retriever.milvus_backend import CLAIM_FILE, LanguageSums, MilvusBackend
from retriever.milvus_index import BATCH, MilvusCollection
from retriever.milvus_tags import access_tags, document_tags
from retriever.rows import DocumentRow

CHECKPOINT = "migrate-milvus.json"
Progress = Callable[[int, int], None]  # (rows done, rows in all)


def migrate_to_milvus(home: Path, backend: MilvusBackend, progress: Progress | None = None) -> int:
    """Returns how many chunks Milvus holds for the new generation."""
    root = home / "index"
    root.mkdir(parents=True, exist_ok=True)
    try:
        lock = acquire_lock(root / ".writer.lock")
    except LockBusy as exc:
        raise WriterBusyError(f"another ingest is writing to {root}; wait for it") from exc
    try:
        live = _live_faiss_generation(root)
        manifest = read_manifest(live / "manifest.json")
        collection = backend.collection(manifest.dim)
        _check_target(root, collection, backend)
        sums = _copy_rows(root, live, collection, progress)
        _swap_in(root, live, manifest, sums, backend)
        return manifest.count
    finally:
        lock.close()


def _live_faiss_generation(root: Path) -> Path:
    current = root / "CURRENT"
    if not current.is_file():
        raise StoreError(f"no index at {root} to migrate; ingest first")
    live = root / current.read_text().strip()
    backend = read_manifest(live / "manifest.json").backend
    if backend != "faiss":
        raise StoreError(f"the index at {root} already keeps its vectors in {backend}")
    return live


def _check_target(root: Path, collection: MilvusCollection, backend: MilvusBackend) -> None:
    if (root / CHECKPOINT).is_file() or collection.count() == 0:
        (root / CLAIM_FILE).write_text(
            json.dumps({"uri": backend.target.uri, "collection": backend.target.collection})
        )
        return
    raise StoreError(
        f"Milvus collection {backend.target.collection!r} is not empty and no migration of "
        "this home into it was interrupted; choose a new SHIFU_MILVUS_COLLECTION"
    )


def _copy_rows(
    root: Path, live: Path, collection: MilvusCollection, progress: Progress | None
) -> LanguageSums:
    meta = MetadataDB(live / "meta.sqlite", read_only=True)
    vectors = VectorIndex.read(live / "vectors.faiss")
    try:
        docs = {row.key: row for row in meta.documents()}
        owners, scripts = meta.chunk_docs(), meta.chunk_scripts()
        ids = sorted(owners)
        done = _checkpoint(root, live.name)
        sums = LanguageSums(vectors.dim, None)
        for start in range(0, len(ids), BATCH):
            batch = ids[start : start + BATCH]
            matrix = vectors.vectors(batch)
            sums.change([scripts[i] for i in batch], matrix, +1)
            if batch[-1] > done:
                collection.upsert(_rows(batch, matrix, owners, scripts, docs))
                _save_checkpoint(root, live.name, batch[-1])
            if progress:
                progress(start + len(batch), len(ids))
        return sums
    finally:
        meta.close()


def _rows(
    ids: list[int], matrix: np.ndarray, owners: dict[int, str], scripts: dict[int, str],
    docs: dict[str, DocumentRow],
) -> list[dict[str, object]]:  # fmt: skip
    return [
        {"id": i, "vector": v.tolist(), "doc_key": owners[i], "script": scripts[i],
         "tags": document_tags(docs[owners[i]]), "access": access_tags(docs[owners[i]].meta.access),
         "superseded": docs[owners[i]].superseded}
        for i, v in zip(ids, matrix, strict=True)
    ]  # fmt: skip


def _checkpoint(root: Path, generation: str) -> int:
    path = root / CHECKPOINT
    if not path.is_file():
        return 0
    data = json.loads(path.read_text())
    return int(data["done_through"]) if data.get("generation") == generation else 0


def _save_checkpoint(root: Path, generation: str, done_through: int) -> None:
    atomic_write(root / CHECKPOINT, json.dumps({"generation": generation,
                                                "done_through": done_through}))  # fmt: skip


def _swap_in(
    root: Path, live: Path, manifest: Manifest, sums: LanguageSums, backend: MilvusBackend
) -> None:
    generation = manifest.generation + 1
    staging = root / f".gen-{generation:06d}.tmp-migrate"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    shutil.copyfile(live / "meta.sqlite", staging / "meta.sqlite")
    shutil.copytree(live / SPARSE_DIR, staging / SPARSE_DIR)
    if (live / DIRECTION_FILE).is_file():
        shutil.copyfile(live / DIRECTION_FILE, staging / DIRECTION_FILE)
    sums.save(staging)
    moved = replace(manifest, generation=generation, created_at=time.time(), backend="milvus",
                    **backend.extra_manifest())  # fmt: skip
    (staging / "manifest.json").write_text(json.dumps(asdict(moved), indent=2))
    fsync_tree(staging)
    final = root / f"gen-{generation:06d}"
    shutil.rmtree(final, ignore_errors=True)
    staging.rename(final)
    atomic_write(root / "CURRENT", final.name)
    (root / CHECKPOINT).unlink(missing_ok=True)
