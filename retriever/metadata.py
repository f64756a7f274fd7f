"""SQLite metadata of one index generation: documents and their chunks."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from retriever.records import Chunk, Document
from retriever.text import script_of, sparse_tokens

SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
    doc_id TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    source TEXT NOT NULL,
    path TEXT NOT NULL UNIQUE,
    content_hash TEXT NOT NULL,
    kind TEXT NOT NULL,
    page_count INTEGER NOT NULL,
    ingested_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS chunks (
    chunk_id INTEGER PRIMARY KEY,
    doc_id TEXT NOT NULL REFERENCES documents(doc_id) ON DELETE CASCADE,
    ordinal INTEGER NOT NULL,
    text TEXT NOT NULL,
    text_hash TEXT NOT NULL,
    char_start INTEGER NOT NULL,
    char_end INTEGER NOT NULL,
    page INTEGER,
    section TEXT,
    script TEXT NOT NULL,
    tokens TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS chunks_doc ON chunks(doc_id);
"""

FILTERABLE_FIELDS = ("doc_id", "kind", "source")


@dataclass(frozen=True)
class DocumentRow:
    doc_id: str
    title: str
    source: str
    path: str
    content_hash: str
    kind: str
    page_count: int
    ingested_at: float


@dataclass(frozen=True)
class ChunkRow:
    chunk: Chunk
    text_hash: str
    document: DocumentRow
    tokens: frozenset[str]  # the sparse tokens stored at ingest, to compare passages cheaply


class MetadataDB:
    """A thin typed wrapper; readers open it read-only, the writer owns its copy."""

    def __init__(self, path: Path, read_only: bool = False) -> None:
        uri = f"file:{path}?mode=ro" if read_only else f"file:{path}"
        self._conn = sqlite3.connect(uri, uri=True, check_same_thread=False)
        self._lock = threading.Lock()
        self._conn.execute("PRAGMA foreign_keys = ON")
        if not read_only:
            self._conn.executescript(SCHEMA)

    def close(self) -> None:
        self._conn.close()

    def commit(self) -> None:
        self._conn.commit()

    def documents(self) -> list[DocumentRow]:
        with self._lock:
            rows = self._conn.execute(f"SELECT {_DOC_COLUMNS} FROM documents ORDER BY doc_id")
            return [DocumentRow(*row) for row in rows.fetchall()]

    def document_by_path(self, path: str) -> DocumentRow | None:
        with self._lock:
            row = self._conn.execute(
                f"SELECT {_DOC_COLUMNS} FROM documents WHERE path = ?", (path,)
            ).fetchone()
        return DocumentRow(*row) if row else None

    def doc_id_taken(self, doc_id: str) -> bool:
        with self._lock:
            row = self._conn.execute("SELECT 1 FROM documents WHERE doc_id = ?", (doc_id,))
            return row.fetchone() is not None

    def chunk_ids_of(self, doc_id: str) -> list[int]:
        with self._lock:
            rows = self._conn.execute("SELECT chunk_id FROM chunks WHERE doc_id = ?", (doc_id,))
            return [r[0] for r in rows.fetchall()]

    def chunk_hashes_of(self, doc_id: str) -> dict[str, int]:
        """text hash -> chunk id, so unchanged chunks of an edited file keep their vectors."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT text_hash, chunk_id FROM chunks WHERE doc_id = ?", (doc_id,)
            )
            return {h: cid for h, cid in rows.fetchall()}

    def chunk_ids_where(self, filters: Mapping[str, Sequence[str]]) -> list[int]:
        clauses, params = _filter_sql(filters)
        sql = "SELECT c.chunk_id FROM chunks c JOIN documents d ON c.doc_id = d.doc_id"
        with self._lock:
            rows = self._conn.execute(f"{sql} WHERE {clauses}", params)
            return [r[0] for r in rows.fetchall()]

    def chunk_rows(self, chunk_ids: Iterable[int]) -> dict[int, ChunkRow]:
        ids = list(chunk_ids)
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        sql = (
            f"SELECT c.chunk_id, c.doc_id, c.ordinal, c.text, c.char_start, c.char_end, c.page,"
            f" c.section, c.text_hash, c.tokens, {_DOC_COLUMNS_D} FROM chunks c"
            f" JOIN documents d ON c.doc_id = d.doc_id WHERE c.chunk_id IN ({marks})"
        )
        with self._lock:
            rows = self._conn.execute(sql, ids).fetchall()
        return {row[0]: _chunk_row(row) for row in rows}

    def chunk_docs(self) -> dict[int, str]:
        """Doc id of every chunk, to map chunk hits back to documents."""
        with self._lock:
            rows = self._conn.execute("SELECT chunk_id, doc_id FROM chunks").fetchall()
        return {int(cid): str(doc) for cid, doc in rows}

    def count_chunks(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT COUNT(*) FROM chunks").fetchone()[0])

    def put_document(self, doc: Document, ingested_at: float) -> None:
        self._conn.execute(
            "INSERT OR REPLACE INTO documents VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                doc.doc_id,
                doc.title,
                doc.source,
                doc.path,
                doc.content_hash,
                doc.kind,
                len(doc.pages),
                ingested_at,
            ),
        )

    def put_chunks(self, chunks: Sequence[Chunk], hashes: Sequence[str]) -> None:
        """Store chunks with their script and sparse tokens, computed once here, not per commit."""
        self._conn.executemany(
            "INSERT INTO chunks VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (c.chunk_id, c.doc_id, c.ordinal, c.text, h, c.char_start, c.char_end, c.page,
                 c.section, script_of(c.text), " ".join(sparse_tokens(c.indexed_text)))
                for c, h in zip(chunks, hashes, strict=True)
            ],
        )  # fmt: skip

    def chunk_scripts(self) -> dict[int, str]:
        with self._lock:
            rows = self._conn.execute("SELECT chunk_id, script FROM chunks").fetchall()
        return {int(cid): str(script) for cid, script in rows}

    def chunk_features(self) -> list[tuple[int, str, list[str]]]:
        """(chunk id, script, sparse tokens) of every chunk, in chunk id order."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT chunk_id, script, tokens FROM chunks ORDER BY chunk_id"
            )
            return [(int(cid), str(script), str(tokens).split()) for cid, script, tokens in rows]

    def delete_document(self, doc_id: str) -> None:
        self._conn.execute("DELETE FROM chunks WHERE doc_id = ?", (doc_id,))
        self._conn.execute("DELETE FROM documents WHERE doc_id = ?", (doc_id,))


_DOC_COLUMNS = "doc_id, title, source, path, content_hash, kind, page_count, ingested_at"
_DOC_COLUMNS_D = ", ".join(f"d.{c.strip()}" for c in _DOC_COLUMNS.split(","))


def _filter_sql(filters: Mapping[str, Sequence[str]]) -> tuple[str, list[str]]:
    clauses: list[str] = []
    params: list[str] = []
    for field_name, values in filters.items():
        if field_name not in FILTERABLE_FIELDS:
            raise ValueError(f"cannot filter on {field_name!r}; use one of {FILTERABLE_FIELDS}")
        # field names come from the allow-list above; values are always bound parameters
        clauses.append(f"d.{field_name} IN ({','.join('?' * len(values))})")
        params.extend(values)
    return (" AND ".join(clauses) or "1"), params


def _chunk_row(row: tuple[Any, ...]) -> ChunkRow:
    cid, doc_id, ordinal, text, start, end, page, section, text_hash, tokens, *doc = row
    chunk = Chunk(
        doc_id=doc_id,
        ordinal=ordinal,
        text=text,
        char_start=start,
        char_end=end,
        page=page,
        section=section,
        chunk_id=cid,
    )
    return ChunkRow(chunk, text_hash, DocumentRow(*doc), frozenset(str(tokens).split()))
