"""The units chunks are packed from, and the packing: a chunk fills up to the token budget,
never crosses a unit marked as a break (a PDF page, a heading), and repeats a little of the
previous chunk's paragraph lines as overlap, never a whole step. What the units are comes from
document.py (SOP-like text) and turns.py (transcripts)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from retriever.records import PAGED_KINDS, Chunk, Document, StepSpan
from retriever.text import sentence_spans, strip_span

TokenCounter = Callable[[Sequence[str]], list[int]]
MAX_CONTEXT_CHARS = 200
# measured with multilingual-e5-small (shifu eval): 128-token chunks beat 256 on dense and hybrid
# on emanual-tv, drcd-dev and corpus/eval (a long chunk's vector blurs the one paragraph a
# question is about), beat 160 on the mixed zh/en set and are level on SciFact abstracts (a
# 983-abstract subset: hybrid 0.856 vs 0.860); overlap stays an eighth of the chunk
DEFAULT_CHUNK_TOKENS = 128
DEFAULT_OVERLAP_TOKENS = 16


@dataclass(frozen=True)
class ChunkingConfig:
    max_tokens: int = DEFAULT_CHUNK_TOKENS
    overlap_tokens: int = DEFAULT_OVERLAP_TOKENS

    def __post_init__(self) -> None:
        if self.max_tokens < 16:
            raise ValueError("chunk size must be at least 16 tokens")
        if not 0 <= self.overlap_tokens < self.max_tokens // 2:
            raise ValueError("overlap must be between 0 and half the chunk size")


@dataclass(frozen=True)
class Unit:
    """A block, or a sentence piece of an over-long one, with its span in Document.text."""

    start: int
    end: int
    tokens: int
    section: str | None
    step: str | None
    breaks_before: bool  # no chunk may span the boundary before this unit
    turn: int | None = None  # index into Document.turns
    marker: int = 0  # chars of a Markdown heading marker ('## ') that display text leaves out


def make_chunk(doc: Document, group: list[Unit], ordinal: int, context: str | None) -> Chunk | None:
    start, end = strip_span(doc.text, group[0].start + group[0].marker, group[-1].end)
    if start >= end:
        return None
    page = _page_of(doc, start) if doc.kind in PAGED_KINDS else None
    ocr = doc.ocr[page - 1] if page is not None and len(doc.ocr) >= page else None
    # a group never spans a heading, so all its units share one section
    steps = _step_spans(group, start, end)
    return Chunk(doc.key, ordinal, doc.text[start:end], start, end, page, group[0].section,
                 context=chunk_context(doc.title, context), steps=steps, ocr_confidence=ocr,
                 rows=_rows_of(doc, start, end))  # fmt: skip


def _rows_of(doc: Document, start: int, end: int) -> str | None:
    """'3' or '3–12': the sheet rows whose lines the chunk holds."""
    numbers = [n for s, e, n in doc.rows if s < end and e > start]
    if not numbers:
        return None
    return str(numbers[0]) if len(numbers) == 1 else f"{min(numbers)}–{max(numbers)}"


def chunk_context(title: str, section: str | None) -> str:
    """'title > section', without repeating a title that the section path already starts with."""
    parts = [title] if title else []
    if section:
        parts.append(section.removeprefix(f"{title} > ") if section != title else "")
    return " > ".join(p for p in parts if p)[:MAX_CONTEXT_CHARS]


def _step_spans(group: list[Unit], start: int, end: int) -> tuple[StepSpan, ...]:
    spans: list[StepSpan] = []
    for unit in group:
        if unit.step is None:
            continue
        s, e = max(unit.start, start) - start, min(unit.end, end) - start
        if spans and spans[-1][2] == unit.step:
            spans[-1] = (spans[-1][0], e, unit.step)
        elif e > s:
            spans.append((s, e, unit.step))
    return tuple(spans)


def split_long(text: str, unit: Unit, count: TokenCounter, max_tokens: int) -> list[Unit]:
    pieces = sentence_spans(text, unit.start, unit.end)
    tokens = count([text[s:e] for s, e in pieces])
    units: list[Unit] = []
    for (s, e), n in zip(pieces, tokens, strict=True):
        cuts = _length_cuts(s, e, n, max_tokens) if n > max_tokens else [(s, e)]
        for cs, ce in cuts:
            first = not units
            units.append(Unit(cs, ce, min(n, max_tokens), unit.section, unit.step,
                              unit.breaks_before and first, unit.turn,
                              unit.marker if first else 0))  # fmt: skip
    return units


def _length_cuts(start: int, end: int, tokens: int, max_tokens: int) -> list[tuple[int, int]]:
    # chars per token vary by script; 0.9 of the proportional share keeps each cut under budget
    step = max(1, int((end - start) * max_tokens / tokens * 0.9))
    return [(s, min(s + step, end)) for s in range(start, end, step)]


def pack(units: list[Unit], config: ChunkingConfig) -> list[list[Unit]]:
    groups: list[list[Unit]] = []
    current: list[Unit] = []
    size = 0
    for unit in units:
        if current and (unit.breaks_before or size + unit.tokens > config.max_tokens):
            groups.append(current)
            current = [] if unit.breaks_before else _overlap_tail(current, config, unit)
            size = sum(u.tokens for u in current)
        current.append(unit)
        size += unit.tokens
    if current:
        groups.append(current)
    return groups


def _overlap_tail(previous: list[Unit], config: ChunkingConfig, incoming: Unit) -> list[Unit]:
    """Trailing paragraph lines (or sentences of the step being split) worth repeating."""
    tail: list[Unit] = []
    size = 0
    for unit in reversed(previous):
        own_step = unit.step is not None and unit.step == incoming.step
        if size + unit.tokens > config.overlap_tokens or (unit.step is not None and not own_step):
            break
        tail.insert(0, unit)
        size += unit.tokens
    if size + incoming.tokens > config.max_tokens:
        return []
    return tail


def _page_of(doc: Document, offset: int) -> int:
    page = 1
    for number, page_start in enumerate(doc.page_offsets(), start=1):
        if page_start <= offset:
            page = number
    return page
