"""Index store: generations of (SQLite metadata + BM25 + manifest, and the dense vectors in
the folder with FAISS or in a Milvus collection), swapped atomically; the layout and the swap
itself are retriever/store/layout.py's."""

from __future__ import annotations

import hashlib
import os
import shutil
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from retriever.glossary import Term
from retriever.records import Chunk, Document
from retriever.store import layout
from retriever.store.backend import VectorBackend
from retriever.store.errors import StoreError
from retriever.store.faiss_backend import FaissBackend, FaissVectorWriter
from retriever.store.faults import crash_point
from retriever.store.manifest import FORMAT_VERSION, Manifest, read_manifest, write_manifest
from retriever.store.metadata import MetadataDB
from retriever.store.rows import ChunkRow, DocumentRow
from retriever.store.snapshot import GenerationSnapshot


class IndexStore:
    """Opens snapshots and writers over one home directory."""

    def __init__(self, home: Path, backend: VectorBackend | None = None) -> None:
        self.root = layout.index_root(home)
        self.backend = backend or FaissBackend()

    def current_generation(self) -> str | None:
        return layout.live_name(self.root)

    @property
    def ocr_cache(self) -> Path:
        """Where OCR results are kept by page pixels, for every generation of this home."""
        return self.root / layout.OCR_CACHE

    def manifest(self) -> Manifest | None:
        name = self.current_generation()
        return read_manifest(self.root / name) if name else None

    def live_documents(self) -> list[DocumentRow]:
        """The live generation's documents from its metadata alone (no vectors, no BM25)."""
        name = self.current_generation()
        if name is None:
            return []
        meta = MetadataDB(self.root / name / layout.METADATA, read_only=True)
        try:
            return meta.documents()
        finally:
            meta.close()

    def snapshot(self) -> GenerationSnapshot | None:
        name = self.current_generation()
        if name is None:
            return None
        folder = self.root / name
        if not folder.is_dir():
            raise StoreError(f"index generation {folder} named by CURRENT is missing")
        return GenerationSnapshot(folder, self.backend)

    def writer(self, model: str, dim: int, precision: str = "fp32") -> StoreWriter:
        """`precision`: what the encoder of this generation's new passages computes in."""
        return StoreWriter(self, model, dim, precision)

    def rewriter(self, model: str, dim: int, precision: str = "fp32") -> StoreWriter:
        """A writer of the next generation with every vector embedded again by another model:
        its documents and chunks are the live ones, its vectors start empty (`put_vectors`)."""
        if self.manifest() is None:
            raise StoreError("nothing to re-embed: the index is empty")
        if not isinstance(self.backend, FaissBackend):
            raise StoreError(
                f"re-embedding works on the faiss store, not {self.backend.name!r}: re-ingest "
                "into a new Milvus collection with the new model instead"
            )
        return StoreWriter(self, model, dim, precision, reembed=True)

    def check_writer_free(self) -> None:
        """Fail now, before a caller spends time loading a model, when another ingest writes."""
        layout.writer_lock(self.root).close()


class StoreWriter:
    """Stages the next generation; `commit()` swaps it in, `abort()` throws it away."""

    def __init__(
        self, store: IndexStore, model: str, dim: int, precision: str = "fp32",
        reembed: bool = False,
    ) -> None:  # fmt: skip
        self._store = store
        self._lock = layout.writer_lock(store.root)
        try:
            layout.remove_stale_staging(store.root, store.current_generation())
            self._open_staging(model, dim, precision, reembed)
        except BaseException:
            self._lock.close()
            raise

    def _open_staging(self, model: str, dim: int, precision: str, reembed: bool) -> None:
        previous = self._store.manifest()
        if previous is not None and not reembed:
            previous.check_model(model, dim)
            self._store.backend.check(previous)
        generation = previous.generation + 1 if previous else 1
        root = self._store.root
        self._staging = layout.staging_folder(root, generation, str(os.getpid()))
        self._staging.mkdir()
        live = layout.generation_folder(root, previous.generation) if previous else None
        if live is not None:
            shutil.copyfile(live / layout.METADATA, self._staging / layout.METADATA)
        self.vectors = self._store.backend.writer(root, None if reembed else live, previous, dim)
        self.meta = MetadataDB(self._staging / layout.METADATA)
        self._flagged: set[str] = set()
        crash_point("writer:staged")
        self.manifest = Manifest(
            FORMAT_VERSION, model, dim, 0, previous.next_chunk_id if previous else 1,
            generation, time.time(), backend=self._store.backend.name, precision=precision,
            **self._store.backend.extra_manifest(),
        )  # fmt: skip

    def __enter__(self) -> StoreWriter:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if self._lock.closed:
            return
        self.abort()

    def put_document(self, doc: Document, chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        """Insert or replace a document and all its chunks."""
        self.delete_document(doc.key)
        first = self.manifest.next_chunk_id
        numbered = [replace(c, chunk_id=first + i) for i, c in enumerate(chunks)]
        self.manifest = replace(self.manifest, next_chunk_id=first + len(chunks))
        self.meta.put_document(doc, time.time())
        self.meta.put_chunks(numbered, [text_hash(c.indexed_text) for c in numbered])
        self.vectors.add(doc, numbered, vectors)

    def put_vectors(self, chunk_ids: Sequence[int], vectors: np.ndarray) -> None:
        """Re-embedding (a `rewriter`): new vectors of stored chunks."""
        assert isinstance(self.vectors, FaissVectorWriter)  # rewriter() admits faiss only
        self.vectors.add_ids(chunk_ids, vectors)

    def put_terms(self, key: str, terms: Sequence[Term]) -> None:
        """Replace a stored document's glossary terms (its chunks and vectors stay)."""
        self.meta.put_terms(key, terms)

    def document_by_path(self, path: str) -> DocumentRow | None:
        return self.meta.document_by_path(path)

    def chunk_ids(self) -> list[int]:
        return list(self.meta.chunk_docs())

    def chunk_rows(self, chunk_ids: Sequence[int]) -> dict[int, ChunkRow]:
        return self.meta.chunk_rows(chunk_ids)

    def documents(self) -> list[DocumentRow]:
        return self.meta.documents()

    def key_taken(self, key: str) -> bool:
        return self.meta.key_taken(key)

    def revisions_of(self, doc_id: str) -> list[DocumentRow]:
        return self.meta.revisions_of(doc_id)

    def stored_vectors(self, key: str) -> dict[str, np.ndarray]:
        """Vectors of a document's current chunks by text hash, to skip re-embedding them."""
        by_hash = self.meta.chunk_hashes_of(key)
        vectors = self.vectors.vectors(list(by_hash.values()))
        return dict(zip(by_hash.keys(), vectors, strict=True))

    def mark_superseded(self) -> None:
        self._flagged.update(self.meta.mark_superseded())

    def delete_document(self, key: str) -> None:
        self.vectors.remove(self.meta.chunk_ids_of(key))
        self.meta.delete_document(key)

    def commit(self) -> Manifest:
        crash_point("commit:begin")
        self.mark_superseded()
        self.meta.commit()
        count = self.meta.count_chunks()
        if count != self.vectors.count:
            raise StoreError(f"metadata holds {count} chunks but the index {self.vectors.count}")
        projected = self.vectors.write(self._staging, self.meta, sorted(self._flagged))
        crash_point("commit:derived")
        self.meta.close()
        self.manifest = replace(
            self.manifest, count=count, created_at=time.time(), language_projection=projected
        )
        crash_point("commit:vectors")
        write_manifest(self._staging, self.manifest)
        crash_point("commit:manifest")
        layout.publish(self._store.root, self._staging, self.manifest.generation,
                       self.vectors.after_commit)  # fmt: skip
        self._lock.close()
        return self.manifest

    def abort(self) -> None:
        self.meta.close()
        shutil.rmtree(self._staging, ignore_errors=True)
        self._lock.close()


def text_hash(text: str) -> str:
    """What a chunk's stored vector is keyed by, so unchanged text is never embedded again."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
