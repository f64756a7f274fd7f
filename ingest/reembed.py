"""Embed every stored chunk again with another model into a new generation (adopting a tuned
model, or going back): the same documents, chunks and BM25, new vectors. The writer lock and
the staged commit make it as crash-safe as an ingest: until the commit the previous generation,
and with it the previous model, stays live."""

from __future__ import annotations

from dataclasses import replace

from ingest.chunking.units import chunk_context
from ingest.pipeline import Progress
from retriever.models.encoder import Encoder
from retriever.store.faults import crash_point
from retriever.store.index_store import IndexStore
from retriever.store.manifest import Manifest
from retriever.store.rows import ChunkRow

BLOCK = 4096  # chunks read and embedded at a time, so memory stays bounded in a large home


def reembed(store: IndexStore, encoder: Encoder, progress: Progress | None = None) -> Manifest:
    with store.rewriter(encoder.name, encoder.dim, encoder.precision) as writer:
        ids = sorted(writer.chunk_ids())
        if progress is not None:
            progress.start(len(ids))
        for start in range(0, len(ids), BLOCK):
            block = ids[start : start + BLOCK]
            rows = writer.chunk_rows(block)
            texts = [embedded_text(rows[i]) for i in block]
            advance = progress.advance if progress is not None else None
            writer.put_vectors(block, encoder.encode_passages(texts, advance))
            crash_point("reembed:embedded")
        return writer.commit()


def embedded_text(row: ChunkRow) -> str:
    """What ingest embedded: the chunk with its stored context. A generation from before the
    context was stored gets the context rebuilt from title and section (an interview answer's
    question is then missing from it)."""
    chunk = row.chunk
    if not chunk.context:
        chunk = replace(chunk, context=chunk_context(row.document.title, chunk.section))
    return chunk.indexed_text
