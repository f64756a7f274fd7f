"""SQLite metadata of one index generation: documents (with their metadata) and chunks."""

from __future__ import annotations

import sqlite3
import threading
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path

from retriever.bm25.tokens import sparse_tokens
from retriever.filters import check_fields
from retriever.glossary import Glossary, Term
from retriever.records import Chunk, Document
from retriever.store.rows import (
    ADDED_CHUNK_COLUMNS,
    CHUNK_COLUMNS,
    DOCUMENT_COLUMNS,
    ChunkRow,
    DocumentRow,
    chunk_from,
    chunk_values,
    document_row,
    document_values,
    revision_order,
)
from retriever.store.terms import TERMS_SCHEMA, delete_terms, put_terms, read_glossary
from retriever.store.where import document_sql
from retriever.text import script_of

SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
    key TEXT PRIMARY KEY, doc_id TEXT NOT NULL, title TEXT NOT NULL, source TEXT NOT NULL,
    path TEXT NOT NULL UNIQUE, content_hash TEXT NOT NULL, kind TEXT NOT NULL,
    page_count INTEGER NOT NULL, ingested_at REAL NOT NULL, revision TEXT,
    effective_date TEXT, doc_type TEXT, authority TEXT, language TEXT, line TEXT, station TEXT,
    equipment TEXT, access TEXT NOT NULL, interviewee TEXT, interviewer TEXT, date TEXT,
    defaulted TEXT NOT NULL, superseded INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS documents_doc_id ON documents(doc_id);
CREATE TABLE IF NOT EXISTS chunks (
    chunk_id INTEGER PRIMARY KEY,
    doc_key TEXT NOT NULL REFERENCES documents(key) ON DELETE CASCADE,
    ordinal INTEGER NOT NULL, text TEXT NOT NULL, text_hash TEXT NOT NULL,
    char_start INTEGER NOT NULL, char_end INTEGER NOT NULL, page INTEGER, section TEXT,
    steps TEXT NOT NULL, speaker TEXT, time_start TEXT, time_end TEXT, script TEXT NOT NULL,
    tokens TEXT NOT NULL, ocr_confidence REAL, rows TEXT, context TEXT
);
CREATE INDEX IF NOT EXISTS chunks_doc ON chunks(doc_key);
"""

_DOCS = ", ".join(DOCUMENT_COLUMNS)
_DOCS_D = ", ".join(f"d.{c}" for c in DOCUMENT_COLUMNS)
CACHED_ROWS = 20_000  # chunk rows a read-only generation keeps parsed (a few KB each)


class MetadataDB:
    """A thin typed wrapper; readers open it read-only, the writer owns its copy."""

    def __init__(self, path: Path, read_only: bool = False) -> None:
        uri = f"file:{path}?mode=ro" if read_only else f"file:{path}"
        self._conn = sqlite3.connect(uri, uri=True, check_same_thread=False)
        self._lock = threading.Lock()
        self._read_only = read_only
        self._documents: dict[str, DocumentRow] | None = None
        self._chunk_cache: dict[int, ChunkRow] = {}
        self._cache_lock = threading.Lock()
        self._conn.execute("PRAGMA foreign_keys = ON")
        if not read_only:
            self._conn.executescript(SCHEMA + TERMS_SCHEMA)
            self._add_columns()
        self._chunks = self._chunk_select()

    def _add_columns(self) -> None:
        """A writer's copy of an older generation gains the chunk columns added since."""
        present = self._chunk_columns()
        for name, sql_type in ADDED_CHUNK_COLUMNS.items():
            if name not in present:
                self._conn.execute(f"ALTER TABLE chunks ADD COLUMN {name} {sql_type}")

    def _chunk_columns(self) -> set[str]:
        return {row[1] for row in self._conn.execute("PRAGMA table_info(chunks)")}

    def _chunk_select(self) -> str:
        present = self._chunk_columns()
        return ", ".join(c if c in present else f"NULL AS {c}" for c in CHUNK_COLUMNS)

    def close(self) -> None:
        self._conn.close()

    def commit(self) -> None:
        self._conn.commit()

    def _rows(self, sql: str, params: Sequence[object] = ()) -> list[tuple]:
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    def documents(self) -> list[DocumentRow]:
        return [document_row(r) for r in self._rows(f"SELECT {_DOCS} FROM documents ORDER BY key")]

    def document_by_path(self, path: str) -> DocumentRow | None:
        rows = self._rows(f"SELECT {_DOCS} FROM documents WHERE path = ?", (path,))
        return document_row(rows[0]) if rows else None

    def revisions_of(self, doc_id: str) -> list[DocumentRow]:
        rows = self._rows(f"SELECT {_DOCS} FROM documents WHERE doc_id = ?", (doc_id,))
        return [document_row(r) for r in rows]

    def key_taken(self, key: str) -> bool:
        return bool(self._rows("SELECT 1 FROM documents WHERE key = ?", (key,)))

    def chunk_ids_of(self, key: str) -> list[int]:
        return [r[0] for r in self._rows("SELECT chunk_id FROM chunks WHERE doc_key = ?", (key,))]

    def chunk_hashes_of(self, key: str) -> dict[str, int]:
        """text hash -> chunk id, so unchanged chunks of an edited file keep their vectors."""
        rows = self._rows("SELECT text_hash, chunk_id FROM chunks WHERE doc_key = ?", (key,))
        return {h: cid for h, cid in rows}

    def chunk_ids_where(
        self,
        filters: Mapping[str, Sequence[str]],
        include_superseded: bool,
        groups: Sequence[str] | None = None,
        among: Sequence[int] | None = None,
    ) -> list[int]:
        """Chunks of the documents that match (only those `among`, when given); `groups` None
        sees every document."""
        where, params = document_sql(filters, include_superseded, groups)
        sql = "SELECT c.chunk_id FROM chunks c JOIN documents d ON c.doc_key = d.key"
        if among is not None:
            where += f" AND c.chunk_id IN ({','.join(str(int(i)) for i in among) or 'NULL'})"
        return [r[0] for r in self._rows(f"{sql} WHERE {where}", params)]

    def documents_where(
        self,
        filters: Mapping[str, Sequence[str]],
        include_superseded: bool,
        groups: Sequence[str] | None,
        page: tuple[int, int] | None = None,
    ) -> tuple[int, list[tuple[DocumentRow, int]]]:
        """(how many match, the page of (document, chunk count)), ordered by doc_id, revision."""
        where, params = document_sql(filters, include_superseded, groups)
        total = int(self._rows(f"SELECT COUNT(*) FROM documents d WHERE {where}", params)[0][0])
        limit = f" LIMIT {int(page[1])} OFFSET {int(page[0])}" if page else ""
        counted = "(SELECT COUNT(*) FROM chunks c WHERE c.doc_key = d.key)"
        order = "ORDER BY d.doc_id, d.revision, d.key"
        sql = f"SELECT {_DOCS_D}, {counted} FROM documents d WHERE {where} {order}{limit}"
        rows = self._rows(sql, params)
        return total, [(document_row(r[:-1]), int(r[-1])) for r in rows]

    def facets(self, fields: Sequence[str], groups: Sequence[str] | None) -> dict[str, list[str]]:
        """The distinct values of some metadata fields among the documents one may see."""
        where, params = document_sql({}, True, groups)
        found = {}
        check_fields(fields)
        for name in fields:
            sql = (
                f"SELECT DISTINCT d.{name} FROM documents d WHERE {where} AND d.{name} IS NOT NULL"
            )
            found[name] = sorted(str(r[0]) for r in self._rows(sql, params))
        return found

    def document_by_key(self, key: str) -> DocumentRow | None:
        rows = self._rows(f"SELECT {_DOCS} FROM documents WHERE key = ?", (key,))
        return document_row(rows[0]) if rows else None

    def count_superseded(self) -> int:
        return int(self._rows("SELECT COUNT(*) FROM documents WHERE superseded = 1")[0][0])

    def count_restricted(self) -> int:
        return int(self._rows("SELECT COUNT(*) FROM documents WHERE access != '[]'")[0][0])

    def chunk_rows(self, chunk_ids: Iterable[int]) -> dict[int, ChunkRow]:
        """Rows of a read-only generation never change, so the parsed rows are kept."""
        ids = list(chunk_ids)
        if not self._read_only:
            return self._read_chunk_rows(ids)
        cache = self._chunk_cache
        with self._cache_lock:  # queries of several threads share one snapshot
            found = {i: cache[i] for i in ids if i in cache}
        fresh = self._read_chunk_rows([i for i in ids if i not in found])
        with self._cache_lock:
            if len(cache) + len(fresh) > CACHED_ROWS:
                cache.clear()
            cache.update(fresh)
        found.update(fresh)
        return found

    def _read_chunk_rows(self, ids: list[int]) -> dict[int, ChunkRow]:
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        sql = f"SELECT {self._chunks} FROM chunks WHERE chunk_id IN ({marks})"
        documents = self._documents_by_key()
        found = {}
        for row in self._rows(sql, ids):
            chunk, text_hash, tokens = chunk_from(row)
            document = documents.get(chunk.doc_key) or self._document(chunk.doc_key)
            found[int(row[0])] = ChunkRow(chunk, text_hash, document, tokens)
        return found

    def _documents_by_key(self) -> dict[str, DocumentRow]:
        """A read-only generation never changes, so its documents are read once; a query then
        reads only its chunks' rows."""
        if not self._read_only:
            return {}
        if self._documents is None:
            self._documents = {row.key: row for row in self.documents()}
        return self._documents

    def _document(self, key: str) -> DocumentRow:
        row = self.document_by_key(key)
        if row is None:  # chunks reference documents with a foreign key; guard anyway
            raise KeyError(f"chunk of unknown document {key!r}")
        return row

    def chunk_docs(self) -> dict[int, str]:
        """Document key of every chunk, to map chunk hits back to documents."""
        return {int(c): str(k) for c, k in self._rows("SELECT chunk_id, doc_key FROM chunks")}

    def count_chunks(self) -> int:
        return int(self._rows("SELECT COUNT(*) FROM chunks")[0][0])

    def chunk_scripts(self) -> dict[int, str]:
        return {int(c): str(s) for c, s in self._rows("SELECT chunk_id, script FROM chunks")}

    def chunk_features(self, page: int = 8192) -> Iterator[tuple[int, str, list[str]]]:
        """(chunk id, script, sparse tokens) of every chunk, in chunk id order, read a page at a
        time: a million chunks' tokens do not fit in memory as Python strings."""
        last = -1
        while rows := self._rows("SELECT chunk_id, script, tokens FROM chunks WHERE chunk_id > ? "
                                 "ORDER BY chunk_id LIMIT ?", (last, page)):  # fmt: skip
            for cid, script, tokens in rows:
                yield int(cid), str(script), str(tokens).split()
            last = int(rows[-1][0])

    def put_document(self, doc: Document, ingested_at: float) -> None:
        marks = ",".join("?" * len(DOCUMENT_COLUMNS))
        self._conn.execute(f"INSERT OR REPLACE INTO documents VALUES ({marks})",
                           document_values(doc, ingested_at))  # fmt: skip
        put_terms(self._conn, doc.key, doc.terms)

    def put_chunks(self, chunks: Sequence[Chunk], hashes: Sequence[str]) -> None:
        """Store chunks with their script and sparse tokens, computed once here, not per commit."""
        marks = ",".join("?" * len(CHUNK_COLUMNS))
        self._conn.executemany(
            f"INSERT INTO chunks ({', '.join(CHUNK_COLUMNS)}) VALUES ({marks})",
            [chunk_values(c, h, script_of(c.text), " ".join(sparse_tokens(c.indexed_text)))
             for c, h in zip(chunks, hashes, strict=True)],
        )  # fmt: skip

    def delete_document(self, key: str) -> None:
        self._conn.execute("DELETE FROM chunks WHERE doc_key = ?", (key,))
        delete_terms(self._conn, key)
        self._conn.execute("DELETE FROM documents WHERE key = ?", (key,))

    def move_paths(self, old_root: str, new_root: str) -> int:
        """Documents stored under `old_root` now live under `new_root` (a home restored
        elsewhere); returns how many moved."""
        moved = [(new_root + path[len(old_root) :], key)
                 for key, path in self._rows("SELECT key, path FROM documents")
                 if path.startswith(old_root.rstrip("/") + "/")]  # fmt: skip
        self._conn.executemany("UPDATE documents SET path = ? WHERE key = ?", moved)
        self._conn.commit()
        return len(moved)

    def put_terms(self, key: str, terms: Sequence[Term]) -> None:
        put_terms(self._conn, key, terms)

    def glossary(self, groups: Sequence[str] | None) -> Glossary:
        """Given and mined terms of the current documents a caller with `groups` may read."""
        where, params = document_sql({}, False, groups)
        return read_glossary(self._rows, where, params)

    def mark_superseded(self) -> list[str]:
        """Of the documents sharing a doc_id, all but the latest revision are superseded.
        Returns the documents whose flag changed."""
        rows = self._conn.execute(
            "SELECT key, doc_id, revision, effective_date, ingested_at, superseded FROM documents"
        ).fetchall()
        was = {row[0]: int(row[5]) for row in rows}
        by_doc: dict[str, list[tuple]] = defaultdict(list)
        for row in rows:
            by_doc[row[1]].append(row)
        flags: list[tuple[int, str]] = []
        for revisions in by_doc.values():
            orders = {r[0]: revision_order(r[2], r[3], r[4]) for r in revisions}
            latest = max(orders.values())
            # one revision stored as many entries (an evaluation corpus) shares its order
            flags.extend((int(order[:2] != latest[:2]), key) for key, order in orders.items())
        changed = [(flag, key) for flag, key in flags if was[key] != flag]
        self._conn.executemany("UPDATE documents SET superseded = ? WHERE key = ?", changed)
        return [key for _, key in changed]
