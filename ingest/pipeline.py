"""The ingest pipeline: discover -> load -> chunk -> embed (only what changed) -> one commit."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ingest.chunking.document import chunk_document
from ingest.chunking.units import ChunkingConfig
from ingest.loaders.files import Loaded, LoadError, SourceFile, discover, load_document, source_hash
from ingest.loaders.ocr import PageReader
from ingest.loaders.progress import GrowingProgress, NoProgress, Progress
from ingest.mining import with_mined_terms
from ingest.overlap import prefetched
from ingest.removal import prune_missing, remove_paths, stored
from ingest.summary import IngestSummary
from ingest.versions import other_language, pair_versions
from retriever.models.encoder import Encoder
from retriever.records import Chunk, Document
from retriever.store.faults import crash_point
from retriever.store.index_store import IndexStore, StoreWriter, text_hash
from retriever.store.rows import DocumentRow

LOAD_AHEAD = 4  # documents loaded ahead of the one being embedded
EMBED_GROUP_CHUNKS = 256  # chunks embedded in one call: large enough to keep batches full


@dataclass(frozen=True)
class _Pending:
    document: Document
    chunks: list[Chunk]
    is_update: bool


def ingest(
    paths: Sequence[Path | SourceFile],
    store: IndexStore,
    encoder: Encoder,
    config: ChunkingConfig | None = None,
    prune: bool = False,
    progress: Progress | None = None,
    ocr_progress: Progress | None = None,
    gone: Collection[Path] = (),
) -> IngestSummary:
    """`progress` counts chunks embedded, `ocr_progress` pages read by OCR. `prune` drops every
    document whose file is missing; `gone` only those of these files (a watched folder's
    deletions), in the same generation as the rest of the batch."""
    began = time.perf_counter()
    summary = IngestSummary()
    found = discover(paths)
    files = found.files
    crash_point("ingest:discovered")
    for error in found.missing:
        summary.fail(error)
    summary.skip(found.skipped)
    if not stored(store, gone) and _all_unchanged(files, store, encoder.name, prune, summary):
        summary.seconds = time.perf_counter() - began
        return summary
    config = _checked(config, encoder)
    with store.writer(encoder.name, encoder.dim, encoder.precision) as writer:
        reader = PageReader(store.ocr_cache, ocr_progress)
        loading = _load_changed(files, writer, encoder, config, summary, reader)
        pending = _write_as_loaded(loading, writer, encoder, progress or NoProgress(), summary)
        pair_versions(writer, [p.document for p in pending], reader)
        summary.remove(prune_missing(writer) if prune else remove_paths(writer, gone))
        summary.superseded = _superseded(writer, pending)
        if summary.added or summary.updated or summary.removed:
            summary.generation = writer.commit().generation
    summary.seconds = time.perf_counter() - began
    return summary


def index_documents(
    documents: Iterable[Document],
    store: IndexStore,
    encoder: Encoder,
    config: ChunkingConfig | None = None,
    progress: Progress | None = None,
) -> IngestSummary:
    """Index documents that do not come from files (evaluation corpora), in one generation."""
    began = time.perf_counter()
    config = _checked(config, encoder)
    summary = IngestSummary()
    with store.writer(encoder.name, encoder.dim, encoder.precision) as writer:
        pending = [
            _Pending(with_mined_terms(doc), chunk_document(doc, encoder.count_tokens, config),
                     is_update=writer.key_taken(doc.key))
            for doc in documents
        ]  # fmt: skip
        _write(pending, writer, encoder, progress or NoProgress(), summary)
        summary.generation = writer.commit().generation
    summary.seconds = time.perf_counter() - began
    return summary


def _all_unchanged(
    files: list[SourceFile], store: IndexStore, model: str, prune: bool, summary: IngestSummary
) -> bool:
    """True (and the files noted unchanged) when the live generation already holds every file
    as it is and nothing is to be pruned: then no writer, chunker or model is needed."""
    manifest = store.manifest()
    if manifest is None or manifest.model != model:
        return False
    stored = {row.path: row for row in store.live_documents()}
    unchanged = []
    for file in files:
        row = stored.get(str(file.path))
        try:
            if row is None or not _stored_as_is(row, file, file.path.read_bytes()):
                return False
        except OSError:
            return False  # the full path reports it
        unchanged.append(row)
    if prune and any(not Path(row.path).exists() for row in stored.values()):
        return False
    for row in unchanged:
        summary.keep(row.path, row.doc_id)
    return True


def _stored_as_is(row: DocumentRow, file: SourceFile, data: bytes) -> bool:
    """The stored document is this file's content and sidecar, unchanged."""
    return row.content_hash == source_hash(file.path, data)


def _checked(config: ChunkingConfig | None, encoder: Encoder) -> ChunkingConfig:
    config = config or ChunkingConfig()
    if config.max_tokens > encoder.max_tokens:
        raise ValueError(
            f"chunk size {config.max_tokens} exceeds what {encoder.name} reads "
            f"({encoder.max_tokens} tokens)"
        )
    return config


def _write_as_loaded(
    loading: Iterator[_Pending],
    writer: StoreWriter,
    encoder: Encoder,
    progress: Progress,
    summary: IngestSummary,
) -> list[_Pending]:
    """Embed and write documents in groups while the next ones load in a thread."""
    pending: list[_Pending] = []
    group: list[_Pending] = []
    counted = GrowingProgress(progress)
    for item in prefetched(loading, depth=LOAD_AHEAD):
        pending.append(item)
        group.append(item)
        if sum(len(p.chunks) for p in group) >= EMBED_GROUP_CHUNKS:
            _write(group, writer, encoder, counted, summary)
            group = []
    if group or not pending:
        _write(group, writer, encoder, counted, summary)
    return pending


def _load_changed(
    files: list[SourceFile],
    writer: StoreWriter,
    encoder: Encoder,
    config: ChunkingConfig,
    summary: IngestSummary,
    reader: PageReader,
) -> Iterator[_Pending]:
    pending: list[_Pending] = []  # loaded so far, for the revision check
    for file in files:
        try:
            data = file.path.read_bytes()
        except OSError as exc:
            summary.fail(LoadError(file.path, f"cannot read: {exc.strerror}"))
            continue
        existing = writer.document_by_path(str(file.path))
        if existing is not None and _stored_as_is(existing, file, data):
            summary.keep(str(file.path), existing.doc_id)
            continue
        key = existing.key if existing else _new_key(file, writer)
        try:
            loaded = load_document(file, data, key, reader)
            _check_revision(loaded.document, writer, pending)
        except LoadError as error:
            summary.fail(error)
            continue
        _note(summary, loaded)
        crash_point("ingest:loaded")
        document = with_mined_terms(loaded.document)
        chunks = chunk_document(document, encoder.count_tokens, config)
        item = _Pending(document, chunks, is_update=existing is not None)
        pending.append(item)
        yield item


def _new_key(file: SourceFile, writer: StoreWriter) -> str:
    """The source path, unless another file already holds it (same name from another root)."""
    key = file.source
    if writer.key_taken(key):
        key = f"{key}~{hashlib.sha256(str(file.path).encode()).hexdigest()[:8]}"
    return key


def _check_revision(document: Document, writer: StoreWriter, pending: list[_Pending]) -> None:
    """Two files may hold two revisions of one document, never the same revision twice, unless
    they are its two language versions (zh and en)."""
    rows = [(r.path, r.source, r.meta) for r in writer.revisions_of(document.doc_id)]
    rows += [(p.document.path, p.document.source, p.document.meta) for p in pending
             if p.document.doc_id == document.doc_id]  # fmt: skip
    for path, source, meta in rows:
        revision = meta.revision
        if other_language(meta, document.meta):
            continue
        if path != document.path and revision == document.meta.revision:
            shown = f"revision {revision}" if revision else "no revision"
            raise LoadError(
                Path(document.path),
                f"doc_id {document.doc_id!r} with {shown} is already stored from {source}; "
                "give this file another revision or doc_id",
            )


def _note(summary: IngestSummary, loaded: Loaded) -> None:
    document = loaded.document
    for warning in loaded.warnings:
        summary.warn(document.source, warning)
    if document.meta.defaulted:
        summary.defaulted[document.source] = list(document.meta.defaulted)


def _write(
    pending: list[_Pending],
    writer: StoreWriter,
    encoder: Encoder,
    progress: Progress,
    summary: IngestSummary,
) -> None:
    reused = {p.document.key: writer.stored_vectors(p.document.key) for p in pending}
    to_embed = [
        c.indexed_text
        for p in pending
        for c in p.chunks
        if text_hash(c.indexed_text) not in reused[p.document.key]
    ]
    progress.start(len(to_embed))

    def advance(n: int) -> None:
        progress.advance(n)
        crash_point("ingest:embedding")  # between batches of the model

    fresh = iter(encoder.encode_passages(to_embed, progress=advance))
    for item in pending:
        known = reused[item.document.key]
        vectors = [known.get(text_hash(c.indexed_text)) for c in item.chunks]
        matrix = [v if v is not None else next(fresh) for v in vectors]
        shape = (0, encoder.dim)
        crash_point("ingest:embedded")
        writer.put_document(
            item.document, item.chunks, np.vstack(matrix) if matrix else np.zeros(shape)
        )
        crash_point("ingest:written")
        summary.updated += item.is_update
        summary.added += not item.is_update
        summary.files.append({"path": item.document.path, "doc_id": item.document.doc_id,
                              "revision": item.document.meta.revision or "",
                              "status": "updated" if item.is_update else "added"})  # fmt: skip
        summary.pages += len(item.document.pages)
        summary.ocr_pages += sum(c is not None for c in item.document.ocr)
        given = sum(t.origin == "given" for t in item.document.terms)
        summary.glossary_terms += given
        summary.mined_terms += len(item.document.terms) - given
        summary.chunks += len(item.chunks)
    summary.embedded += len(to_embed)


def _superseded(writer: StoreWriter, pending: list[_Pending]) -> list[str]:
    """The revisions that the documents of this batch made (or found) superseded."""
    writer.mark_superseded()
    doc_ids = sorted({p.document.doc_id for p in pending})
    rows = [row for doc_id in doc_ids for row in writer.revisions_of(doc_id)]
    return [f"{r.doc_id} rev {r.meta.revision or '?'} ({r.source})" for r in rows if r.superseded]
