"""What the search page needs beyond queries: filter values, links to originals, feedback."""

from __future__ import annotations

import mimetypes
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from ingest.loaders.decode import DecodeError, decode_text
from service.api_documents import chosen_revision
from service.audit import Actor, Event
from service.contract import errors
from service.feedback import FeedbackStore
from service.links import TEXT_SUFFIXES, LinkError, sign, verify
from service.security import Admin, Reader, RuntimeDep, visible_groups

router = APIRouter()
FACETS = ("doc_type", "line", "station", "equipment")
TEXT_TYPES = dict.fromkeys(TEXT_SUFFIXES, "text/plain")


class LinkRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    revision: str | None = Field(default=None, max_length=100)


class FeedbackRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    question: str = Field(min_length=1, max_length=2000)
    chunk_id: int = Field(ge=1, le=2**53)  # exact as a JSON number everywhere; SQLite's fits
    verdict: Literal["helped", "not_helped"]


def feedback_of(request: Request) -> FeedbackStore:
    store: FeedbackStore = request.app.state.feedback
    return store


@router.get("/v1/facets")
def facets(runtime: RuntimeDep, principal: Reader) -> dict[str, list[str]]:
    with runtime.reading() as snapshot:
        return snapshot.facets(FACETS, visible_groups(principal))


@router.post("/v1/documents/{doc_id}/link", responses=errors(404))
def link(doc_id: str, body: LinkRequest, runtime: RuntimeDep, principal: Reader) -> dict[str, Any]:
    """A link that opens the original for ten minutes, with no key (the current revision, or
    the one asked for)."""
    chosen = chosen_revision(runtime, principal, doc_id, body.revision)
    token, expires = sign(runtime.settings.home, chosen.key)
    return {"url": f"/files/{token}", "expires_at": expires}


@router.get("/files/{token}", include_in_schema=False)
def original(token: str, runtime: RuntimeDep) -> Response:
    try:
        key = verify(runtime.settings.home, token)
    except LinkError as exc:
        raise HTTPException(403, str(exc)) from exc
    with runtime.reading() as snapshot:
        row = snapshot.document_by_key(key)
    path = Path(row.path) if row else None
    if path is None or not path.is_file():
        raise HTTPException(410, "this document is no longer stored")
    try:
        return _served(path)
    except DecodeError as exc:
        raise HTTPException(410, "the stored original can no longer be read as text") from exc


def _served(path: Path) -> Response:
    headers = {"X-Content-Type-Options": "nosniff", "Cache-Control": "private, no-store"}
    if path.suffix.lower() in TEXT_TYPES:  # Big5 or UTF-16 originals reach the browser as UTF-8
        text, _ = decode_text(path.read_bytes())
        return Response(text, media_type="text/plain; charset=utf-8", headers=headers)
    # inline, so a browser shows a PDF at the #page the link names instead of downloading it
    return FileResponse(path, media_type=mimetypes.guess_type(path.name)[0], headers=headers,
                        content_disposition_type="inline", filename=path.name)  # fmt: skip


@router.post("/v1/feedback", status_code=201, responses=errors(404))
def add_feedback(
    body: FeedbackRequest, request: Request, runtime: RuntimeDep, principal: Reader
) -> dict[str, int]:
    with runtime.reading() as snapshot:
        row = snapshot.chunk_rows([body.chunk_id]).get(body.chunk_id)
        visible = snapshot.visible(body.chunk_id, visible_groups(principal))
    if row is None or not visible:
        raise HTTPException(404, f"no passage {body.chunk_id} in the current index")
    judged = (row.document.doc_id, row.chunk.text, row.document.title)
    feedback_id = feedback_of(request).add(body.question, body.chunk_id, body.verdict,
                                           principal.key_id, judged)  # fmt: skip
    runtime.audit.record([Event.by(Actor(principal.key_id, "http"), "feedback",
                                   doc_id=row.document.doc_id, target=f"passage {body.chunk_id}",
                                   detail=body.verdict)])  # fmt: skip
    return {"id": feedback_id}


@router.get("/v1/feedback")
def list_feedback(
    request: Request, principal: Admin, limit: Annotated[int, Field(ge=1)] = 1000
) -> dict[str, list[dict[str, Any]]]:
    verdicts = feedback_of(request).all()[-limit:]
    return {"feedback": [{"id": v.id, "question": v.question, "chunk_id": v.chunk_id,
                          "verdict": v.verdict, "created_at": v.created_at, "key_id": v.key_id,
                          "doc_id": v.doc_id} for v in verdicts]}  # fmt: skip
