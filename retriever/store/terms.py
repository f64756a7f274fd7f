"""The glossary rows of a generation's metadata: each document's terms (a glossary file's given
ones, the pairs mined from any other document, with how often), kept and dropped with their
document, so the glossary is versioned with the index generation like everything else."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Sequence

from retriever.glossary import Glossary, Term

TERMS_SCHEMA = """
CREATE TABLE IF NOT EXISTS terms (
    doc_key TEXT NOT NULL REFERENCES documents(key) ON DELETE CASCADE,
    zh TEXT NOT NULL, en TEXT NOT NULL, synonyms TEXT NOT NULL, scope TEXT,
    origin TEXT NOT NULL, count INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS terms_doc ON terms(doc_key);
"""
Rows = Callable[[str, Sequence[object]], list[tuple]]


def put_terms(conn: sqlite3.Connection, key: str, terms: Sequence[Term]) -> None:
    """A document's terms, replacing those it had."""
    conn.execute("DELETE FROM terms WHERE doc_key = ?", (key,))
    conn.executemany(
        "INSERT INTO terms VALUES (?, ?, ?, ?, ?, ?, ?)",
        [(key, t.zh, t.en, json.dumps(list(t.synonyms), ensure_ascii=False), t.scope,
          t.origin, sum(e.count for e in t.evidence) or 1) for t in terms],
    )  # fmt: skip


def delete_terms(conn: sqlite3.Connection, key: str) -> None:
    conn.execute("DELETE FROM terms WHERE doc_key = ?", (key,))


def read_glossary(rows: Rows, where: str, params: Sequence[object]) -> Glossary:
    """The glossary of the documents that `where` (over documents `d`) selects; a generation
    written before glossaries has none."""
    sql = (
        "SELECT t.zh, t.en, t.synonyms, t.scope, t.origin, t.count, d.doc_id FROM terms t "
        f"JOIN documents d ON t.doc_key = d.key WHERE {where} ORDER BY d.key, t.rowid"
    )
    try:
        found = rows(sql, params)
    except sqlite3.OperationalError as exc:  # no such table: an older generation
        if "no such table" not in str(exc):
            raise
        return Glossary()
    given, mined = [], []
    for zh, en, synonyms, scope, origin, count, doc_id in found:
        term = Term(zh, en, tuple(json.loads(synonyms)), scope, origin)
        if origin == "given":
            given.append(term)
        else:
            mined.append((term, str(doc_id), int(count)))
    return Glossary.build(given, mined)
