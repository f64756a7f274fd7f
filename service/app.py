"""The HTTP edge: `create_app(settings)` builds everything; nothing is created at import."""

from __future__ import annotations

import logging
from importlib import resources
from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse

from retriever.encoder import EncoderError
from retriever.search import SearchError, SearchResult
from retriever.store import ModelMismatchError, StoreError
from service.runtime import EmptyIndexError, EncoderFactory, Runtime
from service.schemas import ErrorResponse, HealthResponse, QueryRequest, QueryResponse
from service.settings import Settings

logger = logging.getLogger("shifu")


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def create_app(settings: Settings, encoder_factory: EncoderFactory | None = None) -> FastAPI:
    app = FastAPI(
        title="Shifu",
        summary="Cited passages from factory SOPs and expert interviews",
        version="0.1.0",
    )
    app.state.runtime = Runtime(settings, encoder_factory)
    app.add_exception_handler(StoreError, _store_error)
    app.add_exception_handler(SearchError, _search_error)
    app.add_exception_handler(EncoderError, _store_error)
    app.add_exception_handler(Exception, _unexpected_error)
    _add_routes(app)
    return app


def _add_routes(app: FastAPI) -> None:
    errors: dict[int | str, dict[str, object]] = {
        409: {"model": ErrorResponse},
        422: {"model": ErrorResponse},
        503: {"model": ErrorResponse},
    }

    @app.post("/v1/query", response_model=QueryResponse, responses=errors)
    def query(body: QueryRequest, runtime: RuntimeDep) -> QueryResponse:
        question = body.question.strip()
        if not question:
            raise HTTPException(422, "question is empty")
        limit = runtime.settings.max_question_chars
        if len(question) > limit:
            raise HTTPException(
                422, f"question is {len(question)} characters; the limit is {limit}"
            )
        filters = {k: [v] if isinstance(v, str) else v for k, v in body.filters.items()}
        result = runtime.query(question, body.k, body.mode, filters, body.include_superseded)
        return QueryResponse.model_validate(result_body(question, result))

    @app.get("/v1/health", response_model=HealthResponse)
    def health(runtime: RuntimeDep) -> HealthResponse:
        manifest = runtime.store.manifest()
        return HealthResponse(
            status="ok" if manifest else "empty",
            model=manifest.model if manifest else None,
            generation=manifest.generation if manifest else None,
            chunks=manifest.count if manifest else 0,
        )

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
    }


async def _search_error(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": str(exc)}, status_code=422)


async def _store_error(request: Request, exc: Exception) -> JSONResponse:
    """Errors an operator can fix: no index yet, another model's index, a missing model."""
    status = 500
    if isinstance(exc, EmptyIndexError | EncoderError):
        status = 503
    elif isinstance(exc, ModelMismatchError):
        status = 409
    return JSONResponse({"detail": str(exc)}, status_code=status)


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    logger.error("unhandled error on %s", request.url.path, exc_info=exc)
    return JSONResponse(
        {"detail": f"internal error ({type(exc).__name__}); see the server log"}, status_code=500
    )
