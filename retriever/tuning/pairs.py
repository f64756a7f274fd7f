"""Training pairs that need no labelling, taken from what the index already holds: headings and
SOP steps to their passages, interview questions to the expert's answer, glossary terms in both
languages and to the passages using them, a passage's own sentence to the rest of it (inverse
cloze), and operators' verdicts. An evaluation question is never a training pair."""

from __future__ import annotations

import random
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Literal, get_args

from retriever.glossary import Glossary
from retriever.store.rows import ChunkRow

Source = Literal["heading", "step", "exchange", "glossary", "usage", "cloze", "feedback"]
SOURCES: tuple[Source, ...] = get_args(Source)
MIN_QUERY_CHARS = 4  # "1." or "OK" teaches nothing
MIN_SENTENCE_CHARS = 12
USAGES_PER_TERM = 2  # passages a glossary term is paired with
CLAUSE_END = re.compile(r"[:：;；。.!?！？,，]\s")
SENTENCE_END = re.compile(r"(?<=[。！？!?；;])|(?<=[.])\s+")
STEP_NUMBER = re.compile(r"^\s*(?:step\s*)?\(?\d+[.)、]?\s*", re.IGNORECASE)


@dataclass(frozen=True)
class Pair:
    """`query` should find `passage` (chunk `chunk_id`, or None for a term's translation);
    `negative`: a passage that looks close but is not the answer, when known; `group`: where
    the passage sits (title and section), whose other passages may answer the query too, so
    they are never its negatives."""

    query: str
    passage: str
    source: Source
    chunk_id: int | None = None
    negative: str | None = None
    group: str | None = None


@dataclass(frozen=True)
class Judged:
    """An operator's verdict on a passage for a question: helped, or did not."""

    question: str
    chunk_id: int
    helped: bool


def normalised(text: str) -> str:
    return " ".join(text.split()).casefold()


def extract_pairs(
    rows: Iterable[ChunkRow], glossary: Glossary, judged: Sequence[Judged] = (),
    excluded: Iterable[str] = (), seed: int = 0,
) -> list[Pair]:  # fmt: skip
    """Every pair the rows, the glossary and the verdicts give; `excluded`: questions that may
    never be a pair's query (the eval set's), compared without case and spacing."""
    chunks = [row for row in rows if not row.document.superseded]
    rng = random.Random(seed)
    found = [
        *_headings(chunks), *_steps(chunks), *_exchanges(chunks), *_terms(glossary),
        *_usages(chunks, glossary), *_clozes(chunks, rng), *_feedback(chunks, judged),
    ]  # fmt: skip
    banned = {normalised(q) for q in excluded}
    return [p for p in found if len(p.query.strip()) >= MIN_QUERY_CHARS
            and normalised(p.query) not in banned]  # fmt: skip


def counts(pairs: Iterable[Pair]) -> dict[str, int]:
    by_source: dict[str, int] = dict.fromkeys(SOURCES, 0)
    for pair in pairs:
        by_source[pair.source] += 1
    return by_source


def group_of(row: ChunkRow) -> str:
    """Title and section: passages under one heading (an article's paragraphs, an SOP
    section's steps) answer much the same questions."""
    title, section = row.document.title, row.chunk.section or ""
    # a document with neither (a bare sentence) is a place of its own
    return f"{title}\x1f{section}" if title or section else f"\x1f{row.chunk.doc_key}"


def _pair(query: str, passage: str, source: Source, row: ChunkRow, **more: str | None) -> Pair:
    return Pair(query, passage, source, row.chunk.chunk_id, group=group_of(row), **more)


def _headings(chunks: Sequence[ChunkRow]) -> Iterator[Pair]:
    """A section's own heading (its last level; the document's title where it has no sections)
    to the first passage under it; not a heading several documents share ("Purpose", one
    article's title over many paragraphs), which names no one passage."""
    first: dict[str, ChunkRow] = {}
    documents: dict[str, set[str]] = {}
    for row in chunks:
        path = row.chunk.section or row.document.title
        heading = STEP_NUMBER.sub("", path.rsplit(" > ", 1)[-1]).strip()
        if heading:
            first.setdefault(heading, row)
            documents.setdefault(heading, set()).add(row.chunk.doc_key)
    for heading, row in first.items():
        if len(documents[heading]) == 1:
            yield _pair(heading, row.chunk.text, "heading", row)


def _steps(chunks: Sequence[ChunkRow]) -> Iterator[Pair]:
    """An SOP step's first clause ("Lock and tag") to the passage holding the step."""
    for row in chunks:
        for start, end, _ in row.chunk.steps:
            step = STEP_NUMBER.sub("", row.chunk.text[start:end])
            clause = CLAUSE_END.split(step, maxsplit=1)[0].strip()
            if clause != step.strip():  # a step that is one clause would be its own answer
                yield _pair(clause, row.chunk.text, "step", row)


def _exchanges(chunks: Sequence[ChunkRow]) -> Iterator[Pair]:
    """An interviewer's question (kept as the answer's context at ingest) to the answer."""
    for row in chunks:
        title, context = row.document.title, row.chunk.context
        asked = context.removeprefix(title).removeprefix(" > ").strip()
        if row.chunk.speaker and asked and asked != (row.chunk.section or ""):
            yield _pair(asked, row.chunk.text, "exchange", row)


def _terms(glossary: Glossary) -> Iterator[Pair]:
    """Each translating term both ways, synonyms included."""
    for term in glossary.translating():
        yield Pair(term.zh, term.en, "glossary")
        yield Pair(term.en, term.zh, "glossary")
        for synonym in term.synonyms:
            yield Pair(synonym, term.en if synonym != term.en else term.zh, "glossary")


def _usages(chunks: Sequence[ChunkRow], glossary: Glossary) -> Iterator[Pair]:
    """A term to passages that use it in the other language's words or in its own."""
    for term in glossary.translating():
        used = [row for row in chunks if term.zh in row.chunk.text
                or term.en.casefold() in row.chunk.text.casefold()]  # fmt: skip
        for row in used[:USAGES_PER_TERM]:
            other = term.en if term.zh in row.chunk.text else term.zh
            yield _pair(other, row.chunk.text, "usage", row)


def _clozes(chunks: Sequence[ChunkRow], rng: random.Random) -> Iterator[Pair]:
    """One sentence of a passage to the passage without it (inverse cloze): sections with no
    heading are covered too."""
    for row in chunks:
        sentences = [s.strip() for s in SENTENCE_END.split(row.chunk.text) if s.strip()]
        if len(sentences) < 2:
            continue
        pick = rng.randrange(len(sentences))
        if len(sentences[pick]) >= MIN_SENTENCE_CHARS:
            rest = " ".join(sentences[:pick] + sentences[pick + 1 :])
            yield _pair(sentences[pick], rest, "cloze", row)


def _feedback(chunks: Sequence[ChunkRow], judged: Sequence[Judged]) -> Iterator[Pair]:
    """'Helped' verdicts as pairs, with the question's 'did not help' passage as negative."""
    row_of = {row.chunk.chunk_id: row for row in chunks}
    unhelpful = {v.question: row_of[v.chunk_id].chunk.text for v in judged
                 if not v.helped and v.chunk_id in row_of}  # fmt: skip
    for verdict in judged:
        row = row_of.get(verdict.chunk_id)
        if verdict.helped and row is not None:
            yield _pair(verdict.question, row.chunk.text, "feedback", row,
                        negative=unhelpful.get(verdict.question))  # fmt: skip
