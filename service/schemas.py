"""HTTP request and response bodies (pydantic lives only in the service)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StringConstraints
from pydantic.json_schema import JsonDict

from ingest.meta.given import DOC_TYPE_PATTERN
from retriever.filters import FILTERABLE_FIELDS
from retriever.ranking.modes import DEFAULT_MODE, Mode

FilterValue = Annotated[str, StringConstraints(min_length=1, max_length=200)]
# what `checked_question` refuses as blank is all whitespace by str.isspace(); \x1c-\x1f are
# named so that engines whose \s is Unicode White_Space (JSON Schema validators) agree
NOT_BLANK = r"[^\s\x1c-\x1f]"
# the question's fields, shared by the REST body and the MCP `search` tool: one set of limits
# (the length limit is a setting: checked by `checked_question`, stated by service.contract)
QuestionField = Annotated[
    str,
    Field(min_length=1, description="the question, in any mix of Chinese and English",
          json_schema_extra={"pattern": NOT_BLANK}),
]  # fmt: skip
TopK = Annotated[int, Field(ge=1, le=50, description="number of passages to return")]
ModeField = Annotated[Mode, Field(description="retrieval mode")]
FILTERS_HELP = ('metadata filters applied before ranking, e.g. {"doc_type": "sop", "line": '
                '["L2", "L3"]}; a list matches any of its values')  # fmt: skip
# the field names are checked by retriever.filters (one owner); the document states them
FILTER_FIELDS: JsonDict = {"propertyNames": {"enum": list(FILTERABLE_FIELDS)}}
Filters = dict[str, FilterValue | Annotated[list[FilterValue], Field(min_length=1)]]
FilterMap = Annotated[
    Filters | None, Field(max_length=10, description=FILTERS_HELP, json_schema_extra=FILTER_FIELDS)
]


class QueryRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a misspelt "filter" must not pass silently

    question: QuestionField
    k: TopK = 5
    mode: ModeField = DEFAULT_MODE
    filters: Filters = Field(default_factory=dict, max_length=10, description=FILTERS_HELP,
                             json_schema_extra=FILTER_FIELDS)  # fmt: skip
    include_superseded: StrictBool = Field(
        default=False, description="also rank superseded revisions (labelled as such)"
    )


class CitationOut(BaseModel):
    doc_id: str
    title: str
    source: str = Field(description="path relative to the ingest root")
    page: int | None = Field(description="1-based page number (PDF and image pages, slides)")
    section: str | None
    char_start: int = Field(description="offset (code points) of the passage in the document text")
    char_end: int
    label: str = Field(
        description="human-readable citation, e.g. 'SOP-IM-012 rev C §4 step 3 (p. 2)'"
    )
    doc_type: str | None = Field(description="sop, interview, manual, document, ...")
    authority: str | None = Field(description="official (SOP) or expert (interview)")
    revision: str | None
    effective_date: str | None
    superseded: bool = Field(description="a newer revision of this document exists")
    step: str | None = Field(description="the SOP step holding the highlighted sentence")
    speaker: str | None = Field(description="the answering expert, for interviews")
    start: str | None = Field(description="HH:MM:SS where the passage starts in the recording")
    end: str | None
    date: str | None = Field(description="the interview's date")
    kind: str | None = Field(
        default=None, description="the document's kind: pdf, image, pptx (a page is a slide), ..."
    )
    rows: str | None = Field(default=None, description="spreadsheet rows of the passage, '5–9'")
    ocr: bool = Field(default=False, description="read from a scan by OCR: check the original")
    ocr_confidence: float | None = Field(
        default=None, description="mean OCR confidence (0-1) of the passage's page"
    )


class Highlight(BaseModel):
    start: int = Field(description="offset (Unicode code points) of the best sentence in text")
    end: int


class PassageOut(BaseModel):
    chunk_id: int
    text: str
    score: float
    highlight: Highlight | None
    citation: CitationOut


class ExpansionOut(BaseModel):
    term: str = Field(description="a word or phrase of the question")
    translations: list[str] = Field(description="what it was searched as in the other language")
    source: str = Field(description="glossary (a given term), mined (from the documents) or "
                        "dictionary (CC-CEDICT)")  # fmt: skip


class QueryResponse(BaseModel):
    question: str
    mode: Mode
    stages: list[str] = Field(description="the retrieval stages that ran, in order")
    passages: list[PassageOut]
    expansions: list[ExpansionOut] = Field(
        default_factory=list,
        description="the question's words translated to search the other language (hybrid, "
        "in an index holding both languages)",
    )


class EvidenceOut(BaseModel):
    doc_id: str
    count: int = Field(description="times the document states the pair")


class TermOut(BaseModel):
    zh: str
    en: str
    synonyms: list[str]
    scope: str | None = Field(description="a line or machine the term belongs to")
    origin: str = Field(description="given (a glossary file) or mined (from the documents)")
    confidence: float = Field(description="1 for a given term; a mined pair's from its evidence")
    evidence: list[EvidenceOut] = Field(description="where a mined pair was seen")
    translates: bool = Field(description="sure enough to translate questions with")


class GlossaryOut(BaseModel):
    given: int
    mined: int
    terms: list[TermOut]


class WatchFailure(BaseModel):
    path: str
    reason: str


class WatchStatus(BaseModel):
    paths: list[str] = Field(description="the watched folders")
    unavailable: list[str] = Field(description="watched folders not there now")
    last_scan: float | None = Field(description="epoch seconds of the last scan")
    pending: int = Field(description="changed files not yet ingested")
    files: int = Field(description="files seen under the watched folders")
    ingests: int
    last_ingest: float | None
    last_error: str | None
    failed: list[WatchFailure] = Field(description="files whose last ingest failed (retried "
                                       "when they change)")  # fmt: skip


class HealthResponse(BaseModel):
    status: str
    model: str | None
    generation: int | None
    chunks: int
    precision: str | None = Field(
        default=None, description="what the index's passages were embedded in: fp32 or bf16"
    )
    watch: WatchStatus | None = Field(default=None, description="`shifu serve --watch` status")


class ErrorResponse(BaseModel):
    detail: str


class FileResult(BaseModel):
    file: str
    status: str = Field(
        description="added, updated, unchanged, failed, or skipped (a type Shifu does not read)"
    )
    doc_id: str | None = None
    reason: str | None = None


class JobOut(BaseModel):
    job_id: str
    status: str = Field(description="queued, running, done or failed")
    files: list[str]
    result: dict[str, object] | None = None
    error: str | None = None


class UploadResponse(BaseModel):
    job: JobOut | None = Field(description="set when the upload is ingested in the background")
    files: list[FileResult]
    generation: int | None = None


class DocumentOut(BaseModel):
    doc_id: str
    title: str
    source: str
    kind: str
    revision: str | None
    effective_date: str | None
    superseded: bool
    doc_type: str | None
    authority: str | None
    language: str | None
    line: str | None
    station: str | None
    equipment: str | None
    access: list[str]
    pages: int
    chunks: int
    ingested_at: float
    defaulted: list[str] = Field(description="metadata fields derived from the file")


class DocumentList(BaseModel):
    total: int
    page: int
    per_page: int
    documents: list[DocumentOut]


class DocumentRevisions(BaseModel):
    doc_id: str
    chunks: int
    revisions: list[DocumentOut]


class ReadyResponse(BaseModel):
    ready: bool
    index: bool
    model: bool
    detail: str | None = None


MetaText = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=NOT_BLANK)]


class UploadMetadata(BaseModel):
    """The `metadata` part of an upload: a JSON object, the fields a sidecar may give.
    Stricter than a sidecar on disk (an unknown field is refused, not warned about), so the
    document can state exactly what is accepted."""

    model_config = ConfigDict(extra="forbid", strict=True, regex_engine="python-re")

    title: MetaText | None = None
    doc_id: MetaText | None = None
    revision: MetaText | None = None
    effective_date: dt.date | None = Field(default=None, description="YYYY-MM-DD")
    doc_type: Annotated[str, StringConstraints(pattern=DOC_TYPE_PATTERN)] | None = None
    authority: Literal["official", "expert"] | None = None
    language: MetaText | None = None
    line: MetaText | None = None
    station: MetaText | None = None
    equipment: MetaText | None = None
    access: list[MetaText] = Field(default_factory=list, max_length=50,
                                   description="access groups that may see the files")  # fmt: skip
    interviewee: MetaText | None = None
    interviewer: MetaText | None = None
    date: dt.date | None = Field(default=None, description="an interview's date, YYYY-MM-DD")
