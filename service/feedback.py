"""Operators' verdicts on passages, kept in HOME/feedback.sqlite (beside the index generations,
which a writer replaces whole), and their export as a BEIR set that `shifu eval` measures."""

from __future__ import annotations

import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from ingest.datasets.beir import write_beir
from retriever.store.rows import DocumentRow
from retriever.store.snapshot import GenerationSnapshot

FEEDBACK_DB = "feedback.sqlite"  # in the home
SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT, question TEXT NOT NULL, chunk_id INTEGER NOT NULL,
    verdict TEXT NOT NULL, created_at REAL NOT NULL, key_id TEXT NOT NULL,
    doc_id TEXT NOT NULL, passage TEXT NOT NULL, title TEXT NOT NULL
);
"""
VERDICTS = ("helped", "not_helped")


@dataclass(frozen=True)
class Verdict:
    id: int
    question: str
    chunk_id: int
    verdict: str
    created_at: float
    key_id: str
    doc_id: str
    passage: str  # the passage as judged, kept in case its document changes later
    title: str


class FeedbackStore:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(path, check_same_thread=False)
        self._conn.executescript(SCHEMA)
        self._lock = threading.Lock()

    def add(self, question: str, chunk_id: int, verdict: str, key_id: str,
            judged: tuple[str, str, str]) -> int:  # fmt: skip
        """`judged` is the passage's (doc_id, text, title) at the time of the verdict."""
        with self._lock, self._conn:
            cursor = self._conn.execute(
                "INSERT INTO feedback (question, chunk_id, verdict, created_at, key_id, doc_id,"
                " passage, title) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (normalised(question), chunk_id, verdict, time.time(), key_id, *judged),
            )
            return int(cursor.lastrowid or 0)

    def all(self) -> list[Verdict]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT id, question, chunk_id, verdict, created_at, key_id, doc_id, passage,"
                " title FROM feedback ORDER BY id"
            ).fetchall()
        return [Verdict(*row) for row in rows]

    def close(self) -> None:
        self._conn.close()


def normalised(question: str) -> str:
    return " ".join(question.split())


def latest(verdicts: list[Verdict]) -> list[Verdict]:
    """Per (question, passage), the latest verdict decides."""
    found: dict[tuple[str, int], Verdict] = {}
    for verdict in verdicts:  # in id order, so a later verdict replaces an earlier one
        found[(verdict.question, verdict.chunk_id)] = verdict
    return list(found.values())


def latest_positive(verdicts: list[Verdict]) -> list[Verdict]:
    """The (question, passage) pairs whose latest verdict is 'helped'."""
    return [v for v in latest(verdicts) if v.verdict == "helped"]


def export_beir(
    verdicts: list[Verdict], snapshot: GenerationSnapshot, folder: Path
) -> tuple[int, int]:
    """queries.jsonl, qrels/test.tsv and corpus.jsonl (the judged passages and every chunk of
    the current index); returns (queries, judgements)."""
    positive = latest_positive(verdicts)
    live = snapshot.chunk_rows(list(snapshot.chunk_docs()))
    corpus = {str(cid): _entry(row.document.title, row.chunk.section, row.chunk.text,
                               _revision(row.document)) for cid, row in live.items()}  # fmt: skip
    for verdict in positive:  # a judged passage whose document changed since keeps its text
        corpus.setdefault(str(verdict.chunk_id),
                          _entry(verdict.title, None, verdict.passage, {}))  # fmt: skip
    questions = sorted({v.question for v in positive})
    ids = {q: f"fb-{n:04d}" for n, q in enumerate(questions, start=1)}
    ordered = sorted(corpus.items(), key=lambda item: int(item[0]))
    judged = sorted((ids[v.question], str(v.chunk_id), 1) for v in positive)
    write_beir(folder, [{"_id": cid, **entry} for cid, entry in ordered],
               [{"_id": ids[q], "text": q} for q in questions], judged)  # fmt: skip
    return len(questions), len(positive)


def _revision(document: DocumentRow) -> dict[str, str]:
    """What lets `shifu eval` leave superseded revisions out, as search does."""
    meta = document.meta
    given = {"doc_id": document.doc_id, "revision": meta.revision,
             "effective_date": meta.effective_date}  # fmt: skip
    return {k: v for k, v in given.items() if v}


def _entry(title: str, section: str | None, text: str, meta: dict[str, str]) -> dict[str, object]:
    heading = f"{title} > {section.rsplit(' > ', 1)[-1]}" if section else title
    return {"title": heading, "text": text, "metadata": meta}
