"""The OpenAPI document as the API's contract: which statuses each route can answer (with the
error body's schema), the limits that depend on settings, and `Allow` on a 405.

Client generators and agents trust the document, so a route lists every status it can return
and nothing it cannot; a fuzz test (tests/test_contract.py) holds the server to it."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.openapi.utils import get_openapi
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from retriever.ranking.modes import available_modes
from service.ratelimit import route_class
from service.schemas import ErrorResponse, UploadMetadata
from service.settings import Settings

WHY = {
    400: "the body could not be parsed (malformed JSON or multipart)",
    401: "no API key, or an unknown one",
    403: "the key's role or access groups do not allow this",
    404: "no such document, revision, passage or job (or not visible to this key)",
    409: "a writer holds the index, or the index was built by another model",
    410: "the document's original is no longer stored",
    413: "the request body or upload is over its limit",
    422: "the request is invalid; `detail` says what is wrong",
    429: "this key's rate limit for the route's class is used up; retry after `Retry-After` s",
    503: "no index yet, or the model or key file cannot be loaded",
}
REF = "#/components/schemas/{model}"
# what any authenticated route may answer, whatever it does
COMMON = (400, 401, 403, 409, 413, 422, 429, 503)


def errors(*extra: int) -> dict[int | str, dict[str, Any]]:
    """The documented error answers of a route: the common ones and those it adds."""
    return {
        status: {"model": ErrorResponse, "description": WHY[status]}
        for status in sorted({*COMMON, *extra})
    }


def install_contract(app: FastAPI, settings: Settings) -> None:
    """A 405 names every method of its path; the document states the settings' limits."""
    app.add_exception_handler(StarletteHTTPException, _with_allow)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(title=app.title, version=app.version, summary=app.summary,
                                   routes=app.routes)  # fmt: skip
            schemas = document["components"]["schemas"]
            query = schemas["QueryRequest"]["properties"]
            query["question"]["maxLength"] = settings.max_question_chars
            query["mode"]["enum"] = available_modes(settings.reranker is not None)
            _metadata_as_json(document, settings.max_upload_files)
            _without_impossible(document)
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _metadata_as_json(document: dict[str, Any], max_files: int) -> None:
    """An upload's `metadata` form field is read as a JSON object (UploadMetadata); FastAPI
    can only call it a string, so the document says what the part holds and how it is sent."""
    schemas = document["components"]["schemas"]
    schemas["UploadMetadata"] = UploadMetadata.model_json_schema(ref_template=REF)
    body = document["paths"]["/v1/documents"]["post"]["requestBody"]["content"]
    form = body["multipart/form-data"]
    ref = form["schema"]["$ref"].rsplit("/", 1)[-1]
    schemas[ref]["properties"]["metadata"] = {"$ref": REF.format(model="UploadMetadata")}
    schemas[ref]["properties"]["files"]["maxItems"] = max_files
    form["encoding"] = {"metadata": {"contentType": "application/json"}}


def _without_impossible(document: dict[str, Any]) -> None:
    """A route without a body cannot answer 400 (unparsable body) or 413; one without any
    parameter or body cannot answer 422; one without a rate budget cannot answer 429."""
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            impossible = set() if "requestBody" in operation else {"400", "413"}
            if "requestBody" not in operation and not operation.get("parameters"):
                impossible.add("422")
            if route_class(method.upper(), path) is None:
                impossible.add("429")
            for status in impossible:
                operation["responses"].pop(status, None)


async def _with_allow(request: Request, exc: Exception) -> Response:
    """Starlette's 405 names the methods of the first route on the path only; a path served by
    two routes (GET and POST /v1/feedback) must name both."""
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 405:
        exc.headers = {**(exc.headers or {}), "Allow": ", ".join(allowed_methods(request))}
    return await http_exception_handler(request, exc)


def allowed_methods(request: Request) -> list[str]:
    methods: set[str] = set()
    for route in _routes(request.app.router.routes):
        match, _ = route.matches(request.scope)
        if match is not Match.NONE:
            methods |= getattr(route, "methods", None) or set()
    return sorted(methods)


def _routes(routes: list[Any]) -> list[Any]:
    """Every route, with those of included routers (FastAPI wraps each router in one entry
    whose own `methods` is not set)."""
    found = []
    for route in routes:
        inner = getattr(route, "original_router", None)
        found.extend(_routes(inner.routes) if inner is not None else [route])
    return found
