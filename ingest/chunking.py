"""Document -> Chunks sized in the embedder's tokens.

Lines are the unit: a chunk never splits a line unless that one line exceeds the budget, in
which case it is split at sentence ends (Chinese and English punctuation), and only a sentence
longer than the whole budget is cut by length. Chunks never cross a PDF page (so a citation's
page is exact) nor a Markdown heading (so a citation's section is exact).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from retriever.records import Chunk, Document
from retriever.text import sentence_spans, strip_span

TokenCounter = Callable[[Sequence[str]], list[int]]

_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")


@dataclass(frozen=True)
class ChunkingConfig:
    max_tokens: int = 256
    overlap_tokens: int = 32

    def __post_init__(self) -> None:
        if self.max_tokens < 16:
            raise ValueError("chunk size must be at least 16 tokens")
        if not 0 <= self.overlap_tokens < self.max_tokens // 2:
            raise ValueError("overlap must be between 0 and half the chunk size")


@dataclass(frozen=True)
class _Unit:
    """A line (or a piece of an over-long line) with its span in Document.text."""

    start: int
    end: int
    tokens: int
    section: str | None
    breaks_before: bool  # a heading or page start: no chunk may span it


def chunk_document(doc: Document, count: TokenCounter, config: ChunkingConfig) -> list[Chunk]:
    text = doc.text
    units = _units(doc, count, config.max_tokens)
    chunks: list[Chunk] = []
    for group in _pack(units, config):
        start, end = strip_span(text, group[0].start, group[-1].end)
        if start >= end:
            continue
        page = _page_of(doc, start) if doc.kind == "pdf" else None
        # a group never spans a heading, so all its units share one section
        section = group[0].section
        chunks.append(
            Chunk(doc.doc_id, len(chunks), text[start:end], start, end, page, section,
                  context=chunk_context(doc.title, section))
        )  # fmt: skip
    return chunks


MAX_CONTEXT_CHARS = 200


def chunk_context(title: str, section: str | None) -> str:
    """'title > section', without repeating a title that the section path already starts with."""
    parts = [title] if title else []
    if section:
        parts.append(section.removeprefix(f"{title} > ") if section != title else "")
    return " > ".join(p for p in parts if p)[:MAX_CONTEXT_CHARS]


def _units(doc: Document, count: TokenCounter, max_tokens: int) -> list[_Unit]:
    spans: list[tuple[int, int, str | None, bool]] = []
    section_path: list[str] = []
    for page_start, page in zip(doc.page_offsets(), doc.pages, strict=True):
        first_line = True
        for start, end in _line_spans(page):
            line = page[start:end]
            heading = _HEADING.match(line.strip()) if doc.kind == "markdown" else None
            if heading:
                depth = len(heading.group(1))
                section_path = [*section_path[: depth - 1], heading.group(2)]
            section = " > ".join(section_path) or None
            spans.append(
                (page_start + start, page_start + end, section, first_line or bool(heading))
            )
            first_line = False
    tokens = count([doc.text[s:e] for s, e, _, _ in spans])
    units: list[_Unit] = []
    for (start, end, section, brk), n in zip(spans, tokens, strict=True):
        if n <= max_tokens:
            units.append(_Unit(start, end, n, section, brk))
        else:
            units.extend(_split_long(doc.text, start, end, section, brk, count, max_tokens))
    return units


def _line_spans(text: str) -> list[tuple[int, int]]:
    spans, pos = [], 0
    for line in text.splitlines(keepends=True):
        if line.strip():
            spans.append((pos, pos + len(line)))
        pos += len(line)
    return spans


def _split_long(
    text: str,
    start: int,
    end: int,
    section: str | None,
    brk: bool,
    count: TokenCounter,
    max_tokens: int,
) -> list[_Unit]:
    pieces = sentence_spans(text, start, end)
    tokens = count([text[s:e] for s, e in pieces])
    units: list[_Unit] = []
    for (s, e), n in zip(pieces, tokens, strict=True):
        if n > max_tokens:
            for cs, ce in _length_cuts(s, e, n, max_tokens):
                units.append(_Unit(cs, ce, max_tokens, section, brk and not units))
        else:
            units.append(_Unit(s, e, n, section, brk and not units))
    return units


def _length_cuts(start: int, end: int, tokens: int, max_tokens: int) -> list[tuple[int, int]]:
    # chars per token vary by script; 0.9 of the proportional share keeps each cut under budget
    step = max(1, int((end - start) * max_tokens / tokens * 0.9))
    return [(s, min(s + step, end)) for s in range(start, end, step)]


def _pack(units: list[_Unit], config: ChunkingConfig) -> list[list[_Unit]]:
    groups: list[list[_Unit]] = []
    current: list[_Unit] = []
    size = 0
    for unit in units:
        if current and (unit.breaks_before or size + unit.tokens > config.max_tokens):
            groups.append(current)
            current = [] if unit.breaks_before else _overlap_tail(current, config, unit.tokens)
            size = sum(u.tokens for u in current)
        current.append(unit)
        size += unit.tokens
    if current:
        groups.append(current)
    return groups


def _overlap_tail(previous: list[_Unit], config: ChunkingConfig, incoming: int) -> list[_Unit]:
    tail: list[_Unit] = []
    size = 0
    for unit in reversed(previous):
        if size + unit.tokens > config.overlap_tokens:
            break
        tail.insert(0, unit)
        size += unit.tokens
    if size + incoming > config.max_tokens:
        return []
    return tail


def _page_of(doc: Document, offset: int) -> int:
    page = 1
    for number, page_start in enumerate(doc.page_offsets(), start=1):
        if page_start <= offset:
            page = number
    return page
