"""The HTTP edge: `create_app(settings)` builds everything; nothing is created at import."""

from __future__ import annotations

import logging
import time
from importlib import resources

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response

from retriever.filters import FilterError
from retriever.models.encoder import EncoderError
from retriever.ranking.modes import SearchError
from retriever.ranking.search import SearchResult
from retriever.store.errors import ModelMismatchError, StoreError, WriterBusyError
from service import api_audit, api_documents, api_glossary, api_page
from service.answering import QuestionError, answer, expansion_rows
from service.auth import KeyFileError
from service.contract import errors, install_contract
from service.feedback import FEEDBACK_DB, FeedbackStore
from service.jobs import JobRunner
from service.limits import BodyLimit
from service.observability import Metrics, install
from service.ratelimit import RateLimits, budgets
from service.runtime import EmptyIndexError, EncoderFactory, Runtime
from service.schemas import (
    HealthResponse,
    QueryRequest,
    QueryResponse,
    ReadyResponse,
)
from service.security import Reader, RuntimeDep
from service.settings import Settings

logger = logging.getLogger("shifu")


def create_app(settings: Settings, encoder_factory: EncoderFactory | None = None) -> FastAPI:
    from service.mcp_edge import MCP_PATH, HttpEdge  # the MCP SDK loads with a server only

    runtime, metrics = Runtime(settings, encoder_factory), Metrics()
    mcp = HttpEdge(runtime, metrics)
    app = FastAPI(
        title="Shifu",
        summary="Cited passages from factory SOPs and expert interviews",
        version="0.1.0",
        lifespan=mcp.lifespan,
    )
    app.state.runtime, app.state.metrics = runtime, metrics
    app.state.jobs = JobRunner(settings.home / "jobs")
    app.state.watcher = None  # a FolderWatcher, with `shifu serve --watch`
    app.state.rate_limits = RateLimits(budgets(settings), metrics.count_rate_limited)
    # streamable HTTP for AI agents; Starlette serves a callable object as an ASGI app
    app.add_route(MCP_PATH, mcp, include_in_schema=False)  # type: ignore[arg-type]
    for error, handler in ((StoreError, _store_error), (SearchError, _search_error),
                           (FilterError, _search_error),
                           (RequestValidationError, _validation_error),
                           (EncoderError, _store_error), (KeyFileError, _store_error),
                           (Exception, _unexpected_error)):  # fmt: skip
        app.add_exception_handler(error, handler)
    install(app, app.state.metrics)
    app.add_middleware(BodyLimit, json_limit=settings.max_body_bytes,
                       upload_limit=settings.max_upload_bytes)  # fmt: skip
    _add_routes(app)
    _add_operations(app)
    app.state.feedback = FeedbackStore(settings.home / FEEDBACK_DB)
    for router in (api_documents.router, api_page.router, api_glossary.router, api_audit.router):
        app.include_router(router, responses=errors())
    install_contract(app, settings)
    return app


def _add_routes(app: FastAPI) -> None:
    @app.post("/v1/query", response_model=QueryResponse, responses=errors())
    def query(body: QueryRequest, runtime: RuntimeDep, principal: Reader) -> QueryResponse:
        began = time.perf_counter()
        try:
            result = answer(runtime, principal, body.question, body.k, body.mode, body.filters,
                            body.include_superseded)  # fmt: skip
        except QuestionError as exc:
            raise HTTPException(422, str(exc)) from exc
        metrics: Metrics = app.state.metrics
        metrics.queries.labels(body.mode).inc()
        metrics.query_seconds.labels(body.mode).observe(time.perf_counter() - began)
        return QueryResponse.model_validate(result_body(body.question.strip(), result))


def _add_operations(app: FastAPI) -> None:
    @app.get("/v1/health", response_model=HealthResponse)
    def health(runtime: RuntimeDep) -> HealthResponse:
        manifest = runtime.store.manifest()
        return HealthResponse(
            status="ok" if manifest else "empty",
            model=manifest.model if manifest else None,
            generation=manifest.generation if manifest else None,
            chunks=manifest.count if manifest else 0,
            precision=manifest.precision if manifest else None,
            watch=app.state.watcher.status() if app.state.watcher else None,
        )

    @app.get("/v1/ready", response_model=ReadyResponse,
             responses={**errors(), 503: {"model": ReadyResponse}})  # fmt: skip
    def ready(runtime: RuntimeDep, principal: Reader) -> JSONResponse:
        index = runtime.store.current_generation() is not None
        model = runtime.encoder_loaded
        missing = [name for name, ok in (("index", index), ("model", model)) if not ok]
        detail = f"not loaded: {', '.join(missing)}" if missing else None
        body = ReadyResponse(ready=not missing, index=index, model=model, detail=detail)
        return JSONResponse(body.model_dump(), status_code=503 if missing else 200)

    @app.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        payload, content_type = app.state.metrics.render()
        return Response(payload, media_type=content_type)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def page() -> HTMLResponse:
        return HTMLResponse(resources.files("service").joinpath("static/index.html").read_text())


def result_body(question: str, result: SearchResult) -> dict[str, object]:
    """The one JSON shape of a query result, shared by the API and `shifu query --json`."""
    return {
        "question": question,
        "mode": result.mode,
        "stages": result.stages,
        "passages": [p.to_dict() for p in result.passages],
        "expansions": expansion_rows(result.expansions),
    }


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    """FastAPI's own handler echoes the input back, which fails on what cannot be encoded
    (NaN, unpaired surrogates) and repeats what the client sent; say what is wrong instead."""
    assert isinstance(exc, RequestValidationError)
    problems = []
    for error in exc.errors():
        where = ".".join(_printable(part) for part in error.get("loc", ()) if part != "body")
        problems.append(f"{where}: {error.get('msg', 'invalid')}" if where else error["msg"])
    return JSONResponse({"detail": "; ".join(problems) or "invalid request"}, status_code=422)


def _printable(part: object) -> str:
    return str(part).encode("utf-8", "replace").decode("utf-8")[:100]


async def _search_error(request: Request, exc: Exception) -> JSONResponse:
    """A request asked for what cannot be served: an unknown mode, field or filter."""
    return JSONResponse({"detail": str(exc)}, status_code=422)


async def _store_error(request: Request, exc: Exception) -> JSONResponse:
    """Errors an operator can fix: no index yet, another model's index, a busy writer."""
    status = 500
    if isinstance(exc, EmptyIndexError | EncoderError | KeyFileError):
        status = 503
    elif isinstance(exc, ModelMismatchError | WriterBusyError):
        status = 409
    return JSONResponse({"detail": _without_paths(request, str(exc))}, status_code=status)


def _without_paths(request: Request, message: str) -> str:
    """Operators read the server's paths in its log; a client is told 'HOME' instead."""
    home = request.app.state.runtime.settings.home
    for path in sorted({str(home.resolve()), str(home)}, key=len, reverse=True):
        message = message.replace(path, "HOME")
    return message


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    logger.error("unhandled error on %s", request.url.path, exc_info=exc)
    return JSONResponse(
        {"detail": f"internal error ({type(exc).__name__}); see the server log"}, status_code=500
    )
