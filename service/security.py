"""Who may call what: the API key on each request, resolved to a Principal, and role checks."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import APIKeyHeader, HTTPBearer

from service.auth import ANONYMOUS, Principal, Role, authenticate
from service.ratelimit import RateLimited, RateLimits, caller_of, route_class
from service.runtime import Runtime

MAX_KEY_CHARS = 200


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def presented_key(headers: Mapping[str, str]) -> str | None:
    """`Authorization: Bearer KEY`, else `X-API-Key: KEY` (header names in lower case, as
    Starlette's headers and an MCP request's give them)."""
    header = headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    key = headers.get("x-api-key", "").strip()
    return key or None


class AuthError(PermissionError):
    """No key, or an unknown one: a 401 over HTTP, a refused MCP call."""


KEY_REQUIRED = "an API key is required: send 'Authorization: Bearer KEY' or 'X-API-Key: KEY'"


def principal_for_key(runtime: Runtime, key: str | None) -> Principal:
    """Who a presented key is (anyone, with auth off), or AuthError. The REST API and the
    MCP server both ask here, so a key means the same on each."""
    if not runtime.settings.auth:
        return ANONYMOUS
    if key is None:
        raise AuthError(KEY_REQUIRED)
    principal = authenticate(runtime.keys(), key) if len(key) <= MAX_KEY_CHARS else None
    if principal is None:
        raise AuthError("unknown API key")
    return principal


# declared so that the OpenAPI document says how to authenticate (client generators read it);
# the key itself is read by presented_key, which the MCP server shares
BEARER = HTTPBearer(auto_error=False, description="Authorization: Bearer KEY")
API_KEY_HEADER = APIKeyHeader(name="X-API-Key", auto_error=False, description="X-API-Key: KEY")


def get_principal(
    request: Request,
    runtime: RuntimeDep,
    _bearer: Annotated[object, Depends(BEARER)],
    _header: Annotated[object, Depends(API_KEY_HEADER)],
) -> Principal:
    host = request.client.host if request.client else None
    try:
        principal = principal_for_key(runtime, presented_key(request.headers))
    except AuthError as exc:
        # requests without a valid key draw on their address's budget: guessing keys is
        # limited as well
        limited(request, caller_of("", False, host))
        raise HTTPException(401, str(exc), headers={"WWW-Authenticate": "Bearer"}) from exc
    request.state.key_id = principal.key_id
    limited(request, caller_of(principal.key_id, runtime.settings.auth, host))
    return principal


def limited(request: Request, caller: str) -> None:
    """Draw on the caller's rate budget for this route (429 with Retry-After when spent)."""
    route = route_class(request.method, request.url.path)
    if route is None:
        return
    limits: RateLimits = request.app.state.rate_limits
    try:
        limits.hit(route, caller)
    except RateLimited as exc:
        raise HTTPException(429, str(exc), headers={"Retry-After": str(exc.retry_after)}) from exc


def require(role: Role) -> Callable[[Principal], Principal]:
    def check(principal: Annotated[Principal, Depends(get_principal)]) -> Principal:
        if not principal.may(role):
            raise HTTPException(
                403, f"this needs the {role} role; key {principal.key_id!r} is a {principal.role}"
            )
        return principal

    return check


Reader = Annotated[Principal, Depends(require("reader"))]
Editor = Annotated[Principal, Depends(require("editor"))]
Admin = Annotated[Principal, Depends(require("admin"))]


def visible_groups(principal: Principal) -> tuple[str, ...] | None:
    """The access groups retrieval must honour; None for an admin, who sees every document."""
    return None if principal.sees_everything else principal.groups
