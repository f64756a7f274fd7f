"""Who may call what: the API key on each request, resolved to a Principal, and role checks."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, HTTPException, Request

from service.auth import ANONYMOUS, Principal, Role, authenticate
from service.runtime import Runtime

MAX_KEY_CHARS = 200


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def presented_key(request: Request) -> str | None:
    """`Authorization: Bearer KEY`, else `X-API-Key: KEY`."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    key = request.headers.get("x-api-key", "").strip()
    return key or None


def get_principal(request: Request, runtime: RuntimeDep) -> Principal:
    if not runtime.settings.auth:
        return ANONYMOUS
    key = presented_key(request)
    if key is None:
        raise HTTPException(
            401, "an API key is required: send 'Authorization: Bearer KEY' or 'X-API-Key: KEY'",
            headers={"WWW-Authenticate": "Bearer"},
        )  # fmt: skip
    principal = authenticate(runtime.keys(), key) if len(key) <= MAX_KEY_CHARS else None
    if principal is None:
        raise HTTPException(401, "unknown API key", headers={"WWW-Authenticate": "Bearer"})
    request.state.key_id = principal.key_id
    return principal


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
