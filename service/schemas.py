"""HTTP request and response bodies (pydantic lives only in the service)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

Mode = Literal["dense", "bm25", "hybrid", "hybrid-rrf", "hybrid+rerank"]


class QueryRequest(BaseModel):
    question: str = Field(description="the question, in any mix of Chinese and English")
    k: int = Field(default=5, ge=1, le=50, description="number of passages to return")
    mode: Mode = Field(default="hybrid", description="retrieval mode")


class CitationOut(BaseModel):
    doc_id: str
    title: str
    source: str = Field(description="path relative to the ingest root")
    page: int | None = Field(description="1-based page number (PDFs)")
    section: str | None
    char_start: int = Field(description="offset (code points) of the passage in the document text")
    char_end: int
    label: str = Field(description="human-readable citation, e.g. 'osha3120.pdf p. 12'")


class Highlight(BaseModel):
    start: int = Field(description="offset (Unicode code points) of the best sentence in text")
    end: int


class PassageOut(BaseModel):
    chunk_id: int
    text: str
    score: float
    highlight: Highlight | None
    citation: CitationOut


class QueryResponse(BaseModel):
    question: str
    mode: Mode
    stages: list[str] = Field(description="the retrieval stages that ran, in order")
    passages: list[PassageOut]


class HealthResponse(BaseModel):
    status: str
    model: str | None
    generation: int | None
    chunks: int


class ErrorResponse(BaseModel):
    detail: str
