"""A Milvus home's vectors in a backup: the rows of one generation's chunks exported from the
collection into a file beside the copied generation, and upserted into a new collection on
restore. Rows are the collection's own (vector and the scalars filters run on), so a restored
home answers as the original without re-embedding."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from retriever.store import layout
from retriever.store.errors import StoreError
from retriever.store.manifest import read_manifest
from retriever.store.metadata import MetadataDB
from retriever.store.milvus.backend import MilvusBackend, claim
from retriever.store.milvus.collection import SCALARS, MilvusCollection, MilvusTarget


class ExportChanged(StoreError):
    """The generation's rows changed while they were read (a newer commit deleted some)."""


def export_rows(collection: MilvusCollection, generation: Path, target: Path) -> int:
    """Every chunk row of `generation` (a copied folder) into `target` (.npz)."""
    meta = MetadataDB(generation / layout.METADATA, read_only=True)
    try:
        ids = sorted(meta.chunk_docs())
    finally:
        meta.close()
    rows = {int(row["id"]): row for row in collection.rows(ids)}
    if len(rows) != len(ids):
        raise ExportChanged(f"{len(ids) - len(rows)} of {len(ids)} rows left Milvus while "
                            "they were exported")  # fmt: skip
    ordered = [rows[i] for i in ids]
    vectors = np.asarray([r["vector"] for r in ordered], np.float32).reshape(len(ids), -1)
    scalars = [json.dumps({name: _plain(r[name]) for name in SCALARS}) for r in ordered]
    np.savez(target, ids=np.asarray(ids, np.int64), vectors=vectors, scalars=np.asarray(scalars))
    return len(ids)


def _plain(value: object) -> object:
    return list(value) if isinstance(value, list | tuple) else value  # pymilvus's array types


def import_rows(home: Path, export: Path, target: MilvusTarget) -> int:
    """Upsert an export into `target`'s collection, which this home claims (it must be new
    or empty)."""
    live = layout.live_name(layout.index_root(home))
    if live is None:
        raise StoreError(f"{home} holds no index generation to import vectors for")
    manifest = read_manifest(layout.index_root(home) / live)
    data = np.load(export, allow_pickle=False)
    collection = MilvusBackend(target).collection(manifest.dim)
    claim(layout.index_root(home), collection, target)  # refuses a collection holding vectors
    columns = zip(data["ids"], data["vectors"], data["scalars"], strict=True)
    rows = [{"id": int(i), "vector": v.tolist(), **json.loads(str(s))} for i, v, s in columns]
    collection.upsert(rows)
    return len(rows)
