"""Typed records that flow one way: file -> Document -> Chunk -> Passage."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

from retriever.glossary import Term
from retriever.labels import citation_label


@dataclass(frozen=True)
class DocMeta:
    """What a document says about itself (front matter, sidecar, DOCX properties), or what was
    derived from the file; `defaulted` names the fields that were derived, not given."""

    doc_id: str | None = None  # shared by every revision of one document
    revision: str | None = None
    effective_date: str | None = None  # ISO date
    doc_type: str | None = None  # sop, interview, manual, note, ...
    authority: str | None = None  # official or expert
    language: str | None = None
    line: str | None = None
    station: str | None = None
    equipment: str | None = None
    access: tuple[str, ...] = ()  # groups allowed to read it; empty means everyone
    interviewee: str | None = None
    interviewer: str | None = None
    date: str | None = None  # the interview's date
    defaulted: tuple[str, ...] = ()


@dataclass(frozen=True)
class Turn:
    """One speaker turn of a transcript; offsets index `Document.text`."""

    char_start: int
    char_end: int
    speaker: str | None
    is_interviewer: bool
    time_start: str | None = None  # HH:MM:SS
    time_end: str | None = None


@dataclass(frozen=True)
class Document:
    """One source file as ingested: identity, provenance, metadata and extracted text."""

    key: str  # unique per stored file (each revision of a document has its own)
    title: str
    source: str  # path relative to the ingest root, POSIX separators
    path: str  # absolute path, used to detect deleted files on --prune
    content_hash: str
    kind: str  # a value of PAGED_KINDS, "markdown", "text", "docx", "xlsx", "html", ...
    pages: tuple[str, ...]  # one entry per PDF page, image page or slide; a single one otherwise
    meta: DocMeta = DocMeta()
    turns: tuple[Turn, ...] = ()  # transcripts only
    ocr: tuple[float | None, ...] = ()  # per page: mean OCR confidence, None for a text layer
    rows: tuple[RowSpan, ...] = ()  # spreadsheets: where each sheet row's line sits in `text`
    terms: tuple[Term, ...] = ()  # a glossary file's terms, or the term pairs mined from it

    @property
    def doc_id(self) -> str:
        return self.meta.doc_id or self.key

    @property
    def text(self) -> str:
        return PAGE_SEPARATOR.join(self.pages)

    def page_offsets(self) -> list[int]:
        """Char offset in `text` where each page starts."""
        offsets, pos = [], 0
        for page in self.pages:
            offsets.append(pos)
            pos += len(page) + len(PAGE_SEPARATOR)
        return offsets


PAGE_SEPARATOR = "\n\n"
# kinds whose pages are cited by number (a slide's number is its page)
PAGED_KINDS = ("pdf", "image", "pptx")

RowSpan = tuple[int, int, int]  # (start, end) in Document.text, and the row's number in its sheet

ChunkRanking = list[tuple[int, float]]  # (chunk id, score), best first

StepSpan = tuple[int, int, str]  # (start, end) within the chunk text, and the step's number


@dataclass(frozen=True)
class Chunk:
    """A span of a document small enough to embed; offsets index `Document.text`."""

    doc_key: str
    ordinal: int
    text: str
    char_start: int
    char_end: int
    page: int | None = None  # 1-based, for PAGED_KINDS
    section: str | None = None
    chunk_id: int | None = None  # assigned by the store
    context: str = ""  # document title and section, indexed with the text but not shown
    steps: tuple[StepSpan, ...] = ()
    speaker: str | None = None
    time_start: str | None = None
    time_end: str | None = None
    ocr_confidence: float | None = None  # the chunk's page was read by OCR, with this confidence
    rows: str | None = None  # spreadsheet rows, '3' or '3–12'

    @property
    def indexed_text(self) -> str:
        """What the embedder and BM25 see: a chunk out of its document loses its subject, so
        the title and section it sits under travel with it."""
        return f"{self.context}\n{self.text}" if self.context else self.text


def step_at(steps: tuple[StepSpan, ...], offset: int | None = None) -> str | None:
    """The step holding `offset` (e.g. the highlighted sentence), else the range of all."""
    if not steps:
        return None
    if offset is not None:
        for start, end, number in steps:
            if start <= offset < end:
                return number
    first, last = steps[0][2], steps[-1][2]
    return first if first == last else f"{first}–{last}"


@dataclass(frozen=True)
class Citation:
    doc_id: str
    title: str
    source: str
    page: int | None
    section: str | None
    char_start: int
    char_end: int
    label: str
    doc_type: str | None = None
    authority: str | None = None
    revision: str | None = None
    effective_date: str | None = None
    superseded: bool = False
    step: str | None = None
    speaker: str | None = None
    start: str | None = None
    end: str | None = None
    date: str | None = None  # an interview's date
    kind: str | None = None  # the document's kind: a pptx page is a slide
    rows: str | None = None  # spreadsheet rows of the passage
    ocr: bool = False  # the text was read from an image: check the original
    ocr_confidence: float | None = None  # mean confidence of the OCR lines of its page

    @staticmethod
    def build(
        doc_id: str, title: str, source: str, meta: DocMeta, chunk: Chunk, superseded: bool,
        kind: str | None = None,
    ) -> Citation:
        citation = Citation(
            doc_id=doc_id, title=title, source=source,
            page=chunk.page, section=chunk.section, char_start=chunk.char_start,
            char_end=chunk.char_end, label="", doc_type=meta.doc_type, authority=meta.authority,
            revision=meta.revision, effective_date=meta.effective_date, superseded=superseded,
            step=step_at(chunk.steps), speaker=chunk.speaker, start=chunk.time_start,
            end=chunk.time_end, date=meta.date, kind=kind, rows=chunk.rows,
            ocr=chunk.ocr_confidence is not None, ocr_confidence=chunk.ocr_confidence,
        )  # fmt: skip
        return citation.with_step(citation.step)

    def with_step(self, step: str | None) -> Citation:
        """The same citation narrowed to one step (the one holding the highlighted sentence)."""
        narrowed = replace(self, step=step)
        return replace(narrowed, label=citation_label(narrowed))


@dataclass(frozen=True)
class Passage:
    """A retrieved chunk with its score and where it came from."""

    chunk_id: int
    text: str
    score: float
    citation: Citation
    highlight: tuple[int, int] | None = None  # the best sentence, as offsets within `text`
    tokens: frozenset[str] = field(default=frozenset(), repr=False, compare=False)
    steps: tuple[StepSpan, ...] = field(default=(), repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        highlight = None
        if self.highlight is not None:
            highlight = {"start": self.highlight[0], "end": self.highlight[1]}
        return {
            "chunk_id": self.chunk_id,
            "text": self.text,
            "score": self.score,
            "highlight": highlight,
            "citation": asdict(self.citation),
        }
