"""Documents over HTTP: upload (ingested by the CLI's pipeline), list, show, delete, fetch."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, HTTPException, Query, Request, UploadFile
from fastapi.responses import FileResponse, JSONResponse
from pydantic import ValidationError

from ingest.loaders.ocr import PageReader
from retriever.filters import check_filters
from retriever.store.rows import DocumentRow
from service.audit import Actor, ingest_events
from service.auth import Principal
from service.contract import errors
from service.jobs import JobRunner
from service.observability import Metrics
from service.runtime import Runtime
from service.schemas import (
    DocumentList,
    DocumentOut,
    DocumentRevisions,
    ErrorResponse,
    JobOut,
    UploadMetadata,
    UploadResponse,
)
from service.security import Editor, Reader, RuntimeDep, visible_groups
from service.uploads import (
    Placed,
    Staged,
    UnreadType,
    UploadError,
    UploadTooLarge,
    cleaned,
    metadata_yaml,
    place,
    settle,
    stage,
)

router = APIRouter(prefix="/v1")
MAX_PER_PAGE = 100


def jobs_of(request: Request) -> JobRunner:
    runner: JobRunner = request.app.state.jobs
    return runner


@router.post("/documents", response_model=UploadResponse, status_code=200,
             responses={202: {"model": UploadResponse},
                        422: {"model": UploadResponse | ErrorResponse,
                              "description": "no file was accepted (see `files`), or "
                              "the request is invalid"}})  # fmt: skip
def upload(
    request: Request,
    runtime: RuntimeDep,
    principal: Editor,
    files: Annotated[list[UploadFile], File(min_length=1, description="SOPs and transcripts")],
    metadata: Annotated[str | None, Form(description="JSON metadata for every file")] = None,
) -> JSONResponse:
    settings, metrics = runtime.settings, request.app.state.metrics
    if len(files) > settings.max_upload_files:
        raise HTTPException(422, f"{len(files)} files; at most {settings.max_upload_files}")
    sidecar = _sidecar(metadata)
    reader = PageReader(runtime.store.ocr_cache)
    staged, results, total = _stage_all(settings.uploads_dir, files, settings.max_upload_bytes,
                                        reader)  # fmt: skip
    with cleaned(staged):
        placed = [place(item, sidecar) for item in staged]
    metrics.count_ingest(results)  # the files refused before ingest
    actor = Actor(principal.key_id, "http")
    runtime.audit.record(ingest_events(actor, [{**row, "path": row["file"]} for row in results]))
    if not placed:
        return JSONResponse({"job": None, "files": results}, status_code=422)
    if total > settings.background_upload_bytes:
        job = jobs_of(request).submit(
            [p.target.name for p in placed], lambda: _ingest(runtime, metrics, placed, [], actor)
        )
        return JSONResponse({"job": _job(job), "files": results}, status_code=202)
    body = _ingest(runtime, metrics, placed, results, actor)
    accepted = any(f["status"] != "failed" for f in body["files"])
    return JSONResponse(body, status_code=200 if accepted else 422)


def _stage_all(
    folder: Path, files: list[UploadFile], limit: int, reader: PageReader
) -> tuple[list[Staged], list[dict[str, str]], int]:
    staged: list[Staged] = []
    results: list[dict[str, str]] = []
    total = 0
    for upload_file in files:
        try:
            item, size = stage(folder, upload_file.filename, upload_file.file, limit - total,
                               reader)  # fmt: skip
        except UploadTooLarge as exc:
            for done in staged:
                done.staging.unlink(missing_ok=True)
            raise HTTPException(413, f"upload exceeds the limit of {limit} bytes") from exc
        except UploadError as exc:
            status = "skipped" if isinstance(exc, UnreadType) else "failed"
            results.append({"file": upload_file.filename or "", "status": status,
                            "reason": str(exc)})  # fmt: skip
            continue
        if any(other.target == item.target for other in staged):
            item.staging.unlink(missing_ok=True)
            reason = f"another file in this upload is also named {item.name!r}"
            results.append({"file": upload_file.filename or "", "status": "failed",
                            "reason": reason})  # fmt: skip
            continue
        staged.append(item)
        total += size
    return staged, results, total


def _sidecar(metadata: str | None) -> str | None:
    if metadata is None or not metadata.strip():
        return None
    try:
        values = UploadMetadata.model_validate_json(metadata).model_dump(mode="json")
    except ValidationError as exc:
        raise HTTPException(422, f"metadata: {_problems(exc)}") from exc
    except RecursionError as exc:
        raise HTTPException(422, "metadata is nested too deep") from exc
    try:
        return metadata_yaml(values)
    except UploadError as exc:
        raise HTTPException(422, str(exc)) from exc


def _problems(exc: ValidationError) -> str:
    """What is wrong, without echoing the input (which may not even be text)."""
    return "; ".join(
        ".".join(str(part) for part in error["loc"]) + f": {error['msg']}" if error["loc"]
        else error["msg"]
        for error in exc.errors(include_input=False)[:5]
    )  # fmt: skip


def _ingest(
    runtime: Runtime,
    metrics: Metrics,
    placed: list[Placed],
    results: list[dict[str, str]],
    actor: Actor,
) -> dict[str, Any]:
    """Ingest the placed uploads; a refused file's predecessor is put back, and so is every
    file when the ingest itself could not run."""
    try:
        summary = runtime.ingest([p.target for p in placed], prune=False, progress=None,
                                 actor=actor)  # fmt: skip
    except BaseException:
        for item in placed:
            settle(item, accepted=False)
        raise
    metrics.count_ingest(summary.files)
    by_path = {str(p.target): p for p in placed}
    for row in summary.files:
        found = by_path.get(row["path"])
        if found is not None:
            settle(found, accepted=row["status"] != "failed")
        name = found.target.name if found else Path(row["path"]).name
        results.append({**{k: v for k, v in row.items() if k != "path"}, "file": name})
    return {"job": None, "files": results, "generation": summary.generation}


@router.get("/jobs/{job_id}", response_model=JobOut, responses=errors(404))
def job(job_id: str, request: Request, principal: Editor) -> dict[str, Any]:
    found = jobs_of(request).get(job_id)
    if found is None:
        raise HTTPException(404, f"no job {job_id!r}")
    return _job(found)


def _job(found: Any) -> dict[str, Any]:
    return {"job_id": found.job_id, "status": found.status, "files": list(found.files),
            "result": found.result, "error": found.error}  # fmt: skip


@router.get("/documents", response_model=DocumentList)
def list_documents(
    request: Request,
    runtime: RuntimeDep,
    principal: Reader,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    per_page: Annotated[int, Query(ge=1, le=MAX_PER_PAGE)] = 20,
    include_superseded: bool = False,
) -> dict[str, Any]:
    filters = _query_filters(request)
    with runtime.reading() as snapshot:
        total, rows = snapshot.documents_where(
            filters,
            include_superseded,
            visible_groups(principal),
            ((page - 1) * per_page, per_page),
        )
    return {"total": total, "page": page, "per_page": per_page,
            "documents": [_document(row, chunks) for row, chunks in rows]}  # fmt: skip


def _query_filters(request: Request) -> dict[str, list[str]]:
    """Every query parameter but paging is a filter (FilterError, a 422, when not one)."""
    paging = {"page", "per_page", "include_superseded"}
    filters = {k: request.query_params.getlist(k) for k in request.query_params if k not in paging}
    check_filters(filters)
    return filters


def _document(row: DocumentRow, chunks: int) -> dict[str, Any]:
    meta = row.meta
    return DocumentOut(
        doc_id=row.doc_id, title=row.title, source=row.source, kind=row.kind,
        revision=meta.revision, effective_date=meta.effective_date, superseded=row.superseded,
        doc_type=meta.doc_type, authority=meta.authority, language=meta.language,
        line=meta.line, station=meta.station, equipment=meta.equipment,
        access=list(meta.access), pages=row.page_count, chunks=chunks,
        ingested_at=row.ingested_at, defaulted=list(meta.defaulted),
    ).model_dump()  # fmt: skip


def visible_revisions(
    runtime: Runtime, principal: Principal, doc_id: str
) -> list[tuple[DocumentRow, int]]:
    """Every revision of a document the caller may see, with its chunk count."""
    with runtime.reading() as snapshot:
        _, rows = snapshot.documents_where({"doc_id": [doc_id]}, True, visible_groups(principal))
    return rows


def _revisions(
    runtime: Runtime, principal: Principal, doc_id: str
) -> list[tuple[DocumentRow, int]]:
    """None (404) is the same answer for a document that does not exist and one outside the
    caller's groups."""
    rows = visible_revisions(runtime, principal, doc_id)
    if not rows:
        raise HTTPException(404, f"no document {doc_id!r}")
    return rows


def revisions_body(doc_id: str, rows: list[tuple[DocumentRow, int]]) -> dict[str, Any]:
    """The one shape of a document and its revisions, for the API and the MCP tool."""
    revisions = [_document(row, chunks) for row, chunks in rows]
    return {"doc_id": doc_id, "chunks": sum(c for _, c in rows), "revisions": revisions}


@router.get("/documents/{doc_id}", response_model=DocumentRevisions, responses=errors(404))
def show_document(doc_id: str, runtime: RuntimeDep, principal: Reader) -> dict[str, Any]:
    return revisions_body(doc_id, _revisions(runtime, principal, doc_id))


@router.delete("/documents/{doc_id}", responses=errors(404))
def delete_document(
    doc_id: str, runtime: RuntimeDep, principal: Editor, revision: str | None = None
) -> dict[str, Any]:
    visible = {row.key for row, _ in _revisions(runtime, principal, doc_id)}
    if principal.groups and not principal.sees_everything:
        with runtime.reading() as snapshot:
            _, everything = snapshot.documents_where({"doc_id": [doc_id]}, True, None)
        if {row.key for row, _ in everything} != visible:
            raise HTTPException(403, f"{doc_id!r} has revisions outside your access groups")
    removed = runtime.remove(doc_id, revision, Actor(principal.key_id, "http"))
    if not removed:
        raise HTTPException(404, f"no revision {revision!r} of {doc_id!r}")
    uploads = runtime.settings.uploads_dir.resolve()
    for row in removed:  # an uploaded original goes too, so a re-ingest cannot bring it back
        path = Path(row.path)
        if path.parent == uploads:
            path.unlink(missing_ok=True)
            path.with_name(f"{path.name}.meta.yaml").unlink(missing_ok=True)
    return {"doc_id": doc_id, "removed": [r.meta.revision or r.source for r in removed]}


@router.get("/documents/{doc_id}/file", response_class=FileResponse, responses=errors(404, 410))
def document_file(
    doc_id: str, runtime: RuntimeDep, principal: Reader, revision: str | None = None
) -> FileResponse:
    row = chosen_revision(runtime, principal, doc_id, revision)
    path = Path(row.path)
    if not path.is_file():
        raise HTTPException(410, f"the original of {doc_id!r} is no longer at {row.source}")
    return FileResponse(path, filename=path.name)


def chosen_revision(
    runtime: Runtime, principal: Principal, doc_id: str, revision: str | None
) -> DocumentRow:
    """The revision asked for, else the current one, of a document the caller may see."""
    for row, _ in _revisions(runtime, principal, doc_id):
        if row.meta.revision == revision if revision else not row.superseded:
            return row
    raise HTTPException(404, f"no revision {revision!r} of {doc_id!r}")
