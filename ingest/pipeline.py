"""The ingest pipeline: discover -> load -> chunk -> embed (only what changed) -> one commit."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from ingest.chunking import ChunkingConfig, chunk_document
from ingest.loaders import LoadError, SourceFile, discover, file_hash, load_document
from retriever.encoder import Encoder
from retriever.records import Chunk, Document
from retriever.store import FaissStore, StoreWriter, text_hash


class Progress(Protocol):
    def start(self, total: int) -> None: ...

    def advance(self, n: int) -> None: ...


class _NoProgress:
    def start(self, total: int) -> None:
        pass

    def advance(self, n: int) -> None:
        pass


@dataclass
class IngestSummary:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    failed: int = 0
    pages: int = 0
    chunks: int = 0  # chunks written for added and updated documents
    embedded: int = 0  # of those, chunks that needed the model (the rest kept their vectors)
    seconds: float = 0.0
    generation: int | None = None
    failures: list[dict[str, str]] = field(default_factory=list)

    def fail(self, error: LoadError) -> None:
        self.failed += 1
        self.failures.append({"path": str(error.path), "reason": error.reason})

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["seconds"] = round(self.seconds, 3)
        return data


@dataclass(frozen=True)
class _Pending:
    document: Document
    chunks: list[Chunk]
    is_update: bool


def ingest(
    paths: list[Path],
    store: FaissStore,
    encoder: Encoder,
    config: ChunkingConfig | None = None,
    prune: bool = False,
    progress: Progress | None = None,
) -> IngestSummary:
    began = time.perf_counter()
    config = _checked(config, encoder)
    summary = IngestSummary()
    files, missing = discover(paths)
    for error in missing:
        summary.fail(error)
    with store.writer(encoder.name, encoder.dim) as writer:
        pending = _load_changed(files, writer, encoder, config, summary)
        _write(pending, writer, encoder, progress or _NoProgress(), summary)
        if prune:
            summary.removed = _prune(writer)
        if summary.added or summary.updated or summary.removed:
            summary.generation = writer.commit().generation
    summary.seconds = time.perf_counter() - began
    return summary


def index_documents(
    documents: Iterable[Document],
    store: FaissStore,
    encoder: Encoder,
    config: ChunkingConfig | None = None,
    progress: Progress | None = None,
) -> IngestSummary:
    """Index documents that do not come from files (evaluation corpora), in one generation."""
    began = time.perf_counter()
    config = _checked(config, encoder)
    summary = IngestSummary()
    with store.writer(encoder.name, encoder.dim) as writer:
        pending = [
            _Pending(doc, chunk_document(doc, encoder.count_tokens, config),
                     is_update=writer.doc_id_taken(doc.doc_id))
            for doc in documents
        ]  # fmt: skip
        _write(pending, writer, encoder, progress or _NoProgress(), summary)
        summary.generation = writer.commit().generation
    summary.seconds = time.perf_counter() - began
    return summary


def _checked(config: ChunkingConfig | None, encoder: Encoder) -> ChunkingConfig:
    config = config or ChunkingConfig()
    if config.max_tokens > encoder.max_tokens:
        raise ValueError(
            f"chunk size {config.max_tokens} exceeds what {encoder.name} reads "
            f"({encoder.max_tokens} tokens)"
        )
    return config


def _load_changed(
    files: list[SourceFile],
    writer: StoreWriter,
    encoder: Encoder,
    config: ChunkingConfig,
    summary: IngestSummary,
) -> list[_Pending]:
    pending: list[_Pending] = []
    for file in files:
        try:
            data = file.path.read_bytes()
        except OSError as exc:
            summary.fail(LoadError(file.path, f"cannot read: {exc.strerror}"))
            continue
        existing = writer.document_by_path(str(file.path))
        if existing is not None and existing.content_hash == file_hash(data):
            summary.unchanged += 1
            continue
        doc_id = existing.doc_id if existing else _new_doc_id(file, writer)
        try:
            document = load_document(file, data, doc_id)
        except LoadError as error:
            summary.fail(error)
            continue
        chunks = chunk_document(document, encoder.count_tokens, config)
        pending.append(_Pending(document, chunks, is_update=existing is not None))
    return pending


def _new_doc_id(file: SourceFile, writer: StoreWriter) -> str:
    """The source path, unless another file already holds it (same name from another root)."""
    doc_id = file.source
    if writer.doc_id_taken(doc_id):
        doc_id = f"{doc_id}~{hashlib.sha256(str(file.path).encode()).hexdigest()[:8]}"
    return doc_id


def _write(
    pending: list[_Pending],
    writer: StoreWriter,
    encoder: Encoder,
    progress: Progress,
    summary: IngestSummary,
) -> None:
    reused = {p.document.doc_id: writer.stored_vectors(p.document.doc_id) for p in pending}
    to_embed = [
        c.indexed_text
        for p in pending
        for c in p.chunks
        if text_hash(c.indexed_text) not in reused[p.document.doc_id]
    ]
    progress.start(len(to_embed))
    fresh = iter(encoder.encode_passages(to_embed, progress=progress.advance))
    for item in pending:
        known = reused[item.document.doc_id]
        vectors = [known.get(text_hash(c.indexed_text)) for c in item.chunks]
        matrix = [v if v is not None else next(fresh) for v in vectors]
        shape = (0, encoder.dim)
        writer.put_document(
            item.document, item.chunks, np.vstack(matrix) if matrix else np.zeros(shape)
        )
        summary.updated += item.is_update
        summary.added += not item.is_update
        summary.pages += len(item.document.pages)
        summary.chunks += len(item.chunks)
    summary.embedded = len(to_embed)


def _prune(writer: StoreWriter) -> int:
    gone = [doc for doc in writer.documents() if not Path(doc.path).exists()]
    for doc in gone:
        writer.delete_document(doc.doc_id)
    return len(gone)
