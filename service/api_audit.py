"""`GET /v1/audit`: the audit log for admins, newest first, paged and filtered."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from service.audit import Action, Event
from service.security import Admin, RuntimeDep

router = APIRouter(prefix="/v1")
MAX_PER_PAGE = 200
Name = Annotated[str | None, Query(min_length=1, max_length=200)]


class AuditEventOut(BaseModel):
    id: int
    at: float = Field(description="epoch seconds")
    actor: str = Field(description="a key id, cli:USER or watch")
    channel: str = Field(description="http, cli or watch")
    action: str = Field(description="upload, update, delete, key_add, key_remove, feedback, "
                        "glossary_add")  # fmt: skip
    result: str = Field(description="ok, failed, skipped (a type not read), ...")
    doc_id: str | None
    revision: str | None
    target: str | None = Field(description="the file, key id or passage the change was to")
    detail: str | None = Field(description="a failure's reason, a verdict, a key's role")


class AuditPage(BaseModel):
    total: int
    page: int
    per_page: int
    events: list[AuditEventOut]


@router.get("/audit", response_model=AuditPage)
def audit(
    runtime: RuntimeDep,
    principal: Admin,
    actor: Name = None,
    action: Action | None = None,
    doc_id: Name = None,
    since: Annotated[float | None, Query(ge=0, le=1e11, description="epoch seconds")] = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    per_page: Annotated[int, Query(ge=1, le=MAX_PER_PAGE)] = 50,
) -> AuditPage:
    filters = {"actor": actor or "", "action": action or "", "doc_id": doc_id or ""}
    total, events = runtime.audit.events(filters, since, ((page - 1) * per_page, per_page))
    return AuditPage(total=total, page=page, per_page=per_page,
                     events=[_out(event) for event in events])  # fmt: skip


def _out(event: Event) -> AuditEventOut:
    return AuditEventOut(id=event.id, at=event.at, actor=event.actor, channel=event.channel,
                         action=event.action, result=event.result, doc_id=event.doc_id,
                         revision=event.revision, target=event.target,
                         detail=event.detail)  # fmt: skip
