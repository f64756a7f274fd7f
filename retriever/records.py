"""Typed records that flow one way: file -> Document -> Chunk -> Passage."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Document:
    """One source file as ingested: identity, provenance and extracted text per page."""

    doc_id: str
    title: str
    source: str  # path relative to the ingest root, POSIX separators
    path: str  # absolute path, used to detect deleted files on --prune
    content_hash: str
    kind: str  # "pdf", "markdown", "text"
    pages: tuple[str, ...]  # one entry per PDF page; a single entry for text files

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


@dataclass(frozen=True)
class Chunk:
    """A span of a document small enough to embed; offsets index `Document.text`."""

    doc_id: str
    ordinal: int
    text: str
    char_start: int
    char_end: int
    page: int | None = None  # 1-based, PDFs only
    section: str | None = None
    chunk_id: int | None = None  # assigned by the store
    context: str = ""  # document title and section, indexed with the text but not shown

    @property
    def indexed_text(self) -> str:
        """What the embedder and BM25 see: a chunk out of its document loses its subject, so
        the title and section it sits under travel with it."""
        return f"{self.context}\n{self.text}" if self.context else self.text


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

    @staticmethod
    def build(
        doc_id: str,
        title: str,
        source: str,
        chunk: Chunk,
    ) -> Citation:
        return Citation(
            doc_id=doc_id,
            title=title,
            source=source,
            page=chunk.page,
            section=chunk.section,
            char_start=chunk.char_start,
            char_end=chunk.char_end,
            label=citation_label(source, chunk.page, chunk.section),
        )


def citation_label(source: str, page: int | None, section: str | None) -> str:
    name = source.rsplit("/", 1)[-1]
    parts = [name]
    if section:
        parts.append(f"§ {section}")
    if page is not None:
        parts.append(f"p. {page}")
    return " ".join(parts)


@dataclass(frozen=True)
class Passage:
    """A retrieved chunk with its score and where it came from."""

    chunk_id: int
    text: str
    score: float
    citation: Citation
    highlight: tuple[int, int] | None = None  # the best sentence, as offsets within `text`
    tokens: frozenset[str] = field(default=frozenset(), repr=False, compare=False)

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
