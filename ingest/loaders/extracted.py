"""What a format reader hands back: text per page, a title, metadata the file states, and what
the page came from (a text layer or OCR)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from retriever.glossary import Term
from retriever.records import RowSpan, Turn


@dataclass(frozen=True)
class Extracted:
    pages: list[str]
    title: str | None = None
    stated: dict[str, Any] = field(default_factory=dict)
    turns: tuple[Turn, ...] = ()
    kind: str = "text"
    ocr: tuple[float | None, ...] = ()  # per page: OCR confidence, None for a text layer
    rows: tuple[RowSpan, ...] = ()
    warnings: tuple[str, ...] = ()
    terms: tuple[Term, ...] = ()  # a glossary file's
