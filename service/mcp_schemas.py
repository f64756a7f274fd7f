"""What the MCP tools return: compact, cited by label, so an agent can quote a passage and its
source in one line. The full citation record stays the REST API's (`schemas.py`)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field

from retriever.records import Passage
from service.links import fragment, sign
from service.schemas import ExpansionOut, TermOut


class CitedPassage(BaseModel):
    label: str = Field(
        description="the citation to quote, e.g. 'SOP-IM-012 rev C §4 step 3 (p. 2)'"
    )
    text: str
    highlight: str | None = Field(description="the sentence of the passage that best answers")
    score: float
    doc_id: str = Field(description="for get_document")
    revision: str | None
    authority: str | None = Field(description="official (SOP) or expert (interview)")
    superseded: bool = Field(description="a newer revision of this document exists")
    page: int | None
    step: str | None = Field(description="the SOP step holding the highlighted sentence")
    speaker: str | None = Field(description="the answering expert, for interviews")
    start: str | None = Field(description="HH:MM:SS where the passage starts in the recording")
    end: str | None
    ocr: bool = Field(description="read from a scan by OCR: check the original")
    link: str | None = Field(
        description="opens the original at its page or passage, for ten minutes, without a key"
    )
    chunk_id: int


class SearchOut(BaseModel):
    question: str
    mode: str
    passages: list[CitedPassage]
    expansions: list[ExpansionOut] = Field(
        description="the question's words translated to search the other language"
    )


class FacetsOut(BaseModel):
    facets: dict[str, list[str]] = Field(description="filter field: the values it can take")


class TermsOut(BaseModel):
    terms: list[TermOut]


def cited(passage: Passage, home: Path, base: str | None, doc_key: str | None) -> CitedPassage:
    """A passage as an agent gets it; its link is signed like the search page's."""
    c = passage.citation
    highlight = passage.text[slice(*passage.highlight)] if passage.highlight else None
    link = None
    if base is not None and doc_key is not None:
        token, _ = sign(home, doc_key)
        link = f"{base}/files/{token}{fragment(passage)}"
    return CitedPassage(
        label=c.label, text=passage.text, highlight=highlight, score=round(passage.score, 4),
        doc_id=c.doc_id, revision=c.revision, authority=c.authority, superseded=c.superseded,
        page=c.page, step=c.step, speaker=c.speaker, start=c.start, end=c.end, ocr=c.ocr,
        link=link, chunk_id=passage.chunk_id,
    )  # fmt: skip
