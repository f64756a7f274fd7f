"""Row <-> record mapping for the metadata database, and which revision is the current one."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from retriever.records import Chunk, DocMeta, Document

DOCUMENT_COLUMNS = (
    "key", "doc_id", "title", "source", "path", "content_hash", "kind", "page_count",
    "ingested_at", "revision", "effective_date", "doc_type", "authority", "language", "line",
    "station", "equipment", "access", "interviewee", "interviewer", "date", "defaulted",
    "superseded",
)  # fmt: skip
CHUNK_COLUMNS = (
    "chunk_id", "doc_key", "ordinal", "text", "text_hash", "char_start", "char_end", "page",
    "section", "steps", "speaker", "time_start", "time_end", "script", "tokens",
    "ocr_confidence", "rows", "context",
)  # fmt: skip
# columns added after format 5's chunks: read as NULL from a generation without them. `context`
# (what was embedded with the text) came within format 6: re-embedding needs it
ADDED_CHUNK_COLUMNS = {"ocr_confidence": "REAL", "rows": "TEXT", "context": "TEXT"}
_META_SCALARS = ("revision", "effective_date", "doc_type", "authority", "language", "line",
                 "station", "equipment")  # fmt: skip
_INTERVIEW = ("interviewee", "interviewer", "date")


@dataclass(frozen=True)
class DocumentRow:
    key: str
    title: str
    source: str
    path: str
    content_hash: str
    kind: str
    page_count: int
    ingested_at: float
    meta: DocMeta
    superseded: bool

    @property
    def doc_id(self) -> str:
        return self.meta.doc_id or self.key


@dataclass(frozen=True)
class ChunkRow:
    chunk: Chunk
    text_hash: str
    document: DocumentRow
    tokens: frozenset[str]  # the sparse tokens stored at ingest, to compare passages cheaply


def document_values(doc: Document, ingested_at: float) -> tuple[Any, ...]:
    meta = doc.meta
    return (
        doc.key, doc.doc_id, doc.title, doc.source, doc.path, doc.content_hash, doc.kind,
        len(doc.pages), ingested_at, *(getattr(meta, f) for f in _META_SCALARS),
        json.dumps(list(meta.access)), *(getattr(meta, f) for f in _INTERVIEW),
        json.dumps(list(meta.defaulted)), 0,
    )  # fmt: skip


def document_row(values: Sequence[Any]) -> DocumentRow:
    row = dict(zip(DOCUMENT_COLUMNS, values, strict=True))
    meta = DocMeta(
        doc_id=row["doc_id"], access=tuple(json.loads(row["access"])),
        defaulted=tuple(json.loads(row["defaulted"])),
        **{f: row[f] for f in _META_SCALARS + _INTERVIEW},
    )  # fmt: skip
    return DocumentRow(row["key"], row["title"], row["source"], row["path"],
                       row["content_hash"], row["kind"], row["page_count"], row["ingested_at"],
                       meta, bool(row["superseded"]))  # fmt: skip


def chunk_values(chunk: Chunk, text_hash: str, script: str, tokens: str) -> tuple[Any, ...]:
    return (
        chunk.chunk_id, chunk.doc_key, chunk.ordinal, chunk.text, text_hash, chunk.char_start,
        chunk.char_end, chunk.page, chunk.section, json.dumps(chunk.steps, ensure_ascii=False),
        chunk.speaker, chunk.time_start, chunk.time_end, script, tokens, chunk.ocr_confidence,
        chunk.rows, chunk.context,
    )  # fmt: skip


def chunk_from(values: Sequence[Any]) -> tuple[Chunk, str, frozenset[str]]:
    row = dict(zip(CHUNK_COLUMNS, values, strict=True))
    chunk = Chunk(
        doc_key=row["doc_key"], ordinal=row["ordinal"], text=row["text"],
        char_start=row["char_start"], char_end=row["char_end"], page=row["page"],
        section=row["section"], chunk_id=row["chunk_id"],
        steps=tuple((s, e, str(n)) for s, e, n in json.loads(row["steps"])),
        speaker=row["speaker"], time_start=row["time_start"], time_end=row["time_end"],
        ocr_confidence=row["ocr_confidence"], rows=row["rows"], context=row["context"] or "",
    )  # fmt: skip
    return chunk, row["text_hash"], frozenset(str(row["tokens"]).split())


def revision_order(revision: str | None, effective_date: str | None, ingested_at: float) -> tuple:
    """Later effective date first decides, then the revision (C after B, 10 after 9), then
    which was ingested last."""
    parts = re.findall(r"\d+|\D+", (revision or "").strip().upper())
    natural = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in parts)
    return (effective_date or "", natural, ingested_at)
