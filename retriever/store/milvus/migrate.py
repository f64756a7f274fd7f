"""Copy a FAISS home into a Milvus collection without re-embedding: the stored vectors and their
metadata go to Milvus, then a new generation that reads them from there becomes current.

Resumable: rows are upserted by chunk id in id order and a checkpoint under the index folder
records the last id written, so a rerun after an interruption continues where it stopped (and
upserting a row twice is harmless). The new generation is published like any writer's
(retriever/store/layout.py: the writer lock, crash points, pruning); the FAISS generation stays
as its predecessor until the next commit prunes it.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np

from retriever.fsutil import atomic_write
from retriever.store import layout
from retriever.store.errors import StoreError
from retriever.store.faiss_index import VectorIndex
from retriever.store.faults import crash_point
from retriever.store.manifest import Manifest, read_manifest, write_manifest
from retriever.store.metadata import MetadataDB
from retriever.store.milvus.backend import LanguageSums, MilvusBackend
from retriever.store.milvus.collection import BATCH, MilvusCollection
from retriever.store.milvus.tags import access_tags, document_tags
from retriever.store.rows import DocumentRow

Progress = Callable[[int, int], None]  # (rows done, rows in all)


def migrate_to_milvus(home: Path, backend: MilvusBackend, progress: Progress | None = None) -> int:
    """Returns how many chunks Milvus holds for the new generation."""
    root = layout.index_root(home)
    lock = layout.writer_lock(root)
    try:
        live = _live_faiss_generation(root)
        layout.remove_stale_staging(root, live.name)
        manifest = read_manifest(live)
        collection = backend.collection(manifest.dim)
        _check_target(root, collection, backend)
        sums = _copy_rows(root, live, collection, progress)
        crash_point("migrate:copied")
        _swap_in(root, live, manifest, sums, backend)
        return manifest.count
    finally:
        lock.close()


def _live_faiss_generation(root: Path) -> Path:
    name = layout.live_name(root)
    if name is None:
        raise StoreError(f"no index at {root} to migrate; ingest first")
    live = root / name
    backend = read_manifest(live).backend
    if backend != "faiss":
        raise StoreError(f"the index at {root} already keeps its vectors in {backend}")
    return live


def _check_target(root: Path, collection: MilvusCollection, backend: MilvusBackend) -> None:
    if (root / layout.MIGRATE_CHECKPOINT).is_file() or collection.count() == 0:
        (root / layout.MILVUS_CLAIM).write_text(
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
    meta = MetadataDB(live / layout.METADATA, read_only=True)
    vectors = VectorIndex.read(live / layout.RAW_VECTORS)
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
    path = root / layout.MIGRATE_CHECKPOINT
    if not path.is_file():
        return 0
    data = json.loads(path.read_text())
    return int(data["done_through"]) if data.get("generation") == generation else 0


def _save_checkpoint(root: Path, generation: str, done_through: int) -> None:
    atomic_write(root / layout.MIGRATE_CHECKPOINT, json.dumps({"generation": generation,
                                                "done_through": done_through}))  # fmt: skip


def _swap_in(
    root: Path, live: Path, manifest: Manifest, sums: LanguageSums, backend: MilvusBackend
) -> None:
    generation = manifest.generation + 1
    staging = layout.staging_folder(root, generation, "migrate")
    staging.mkdir()
    shutil.copyfile(live / layout.METADATA, staging / layout.METADATA)
    shutil.copytree(live / layout.SPARSE_DIR, staging / layout.SPARSE_DIR)
    if (live / layout.DIRECTION).is_file():
        shutil.copyfile(live / layout.DIRECTION, staging / layout.DIRECTION)
    sums.save(staging)
    moved = replace(manifest, generation=generation, created_at=time.time(), backend="milvus",
                    **backend.extra_manifest())  # fmt: skip
    write_manifest(staging, moved)
    crash_point("commit:manifest")
    layout.publish(root, staging, generation, lambda _: _checkpoint_done(root))


def _checkpoint_done(root: Path) -> None:
    (root / layout.MIGRATE_CHECKPOINT).unlink(missing_ok=True)
