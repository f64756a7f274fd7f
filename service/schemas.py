"""HTTP request and response bodies (pydantic lives only in the service)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class QueryRequest(BaseModel):
    question: str = Field(description="the question, in any mix of Chinese and English")
    k: int = Field(default=5, ge=1, le=50, description="number of passages to return")


class CitationOut(BaseModel):
    doc_id: str
    title: str
    source: str = Field(description="path relative to the ingest root")
    page: int | None = Field(description="1-based page number (PDFs)")
    section: str | None
    char_start: int = Field(description="offset of the passage in the document's text")
    char_end: int
    label: str = Field(description="human-readable citation, e.g. 'osha3120.pdf p. 12'")


class PassageOut(BaseModel):
    chunk_id: int
    text: str
    score: float
    citation: CitationOut


class QueryResponse(BaseModel):
    question: str
    passages: list[PassageOut]


class HealthResponse(BaseModel):
    status: str
    model: str | None
    generation: int | None
    chunks: int


class ErrorResponse(BaseModel):
    detail: str
