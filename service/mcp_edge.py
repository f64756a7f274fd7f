"""Where agents reach the MCP tools: streamable HTTP at /mcp inside `shifu serve` (same process,
same port, the same API keys as bearer tokens), and stdio for `shifu mcp` (the key from the
environment). The tools themselves are in mcp_tools.py."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
from mcp.server.mcpserver import Context
from mcp.server.transport_security import TransportSecuritySettings
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from service.auth import Principal
from service.limits import send_detail
from service.mcp_tools import build_server
from service.observability import Metrics
from service.ratelimit import RateLimited, caller_of
from service.runtime import Runtime
from service.security import AuthError, presented_key, principal_for_key
from service.settings import LOOPBACK

MCP_PATH = "/mcp"


class HttpEdge:
    """The ASGI endpoint at /mcp. A request without a valid key is refused with 401 before
    the SDK sees it; each tool call is then answered as its own request's key."""

    def __init__(self, runtime: Runtime, metrics: Metrics) -> None:
        self.runtime = runtime
        self.server = build_server(runtime, self._principal, _request_base, metrics)
        self._app: ASGIApp | None = None

    @asynccontextmanager
    async def lifespan(self, _: object) -> AsyncIterator[None]:
        """The SDK's session manager runs for the app's lifetime, once per start: stateless,
        so no session outlives a request and every call carries its key."""
        app = self.server.streamable_http_app(
            streamable_http_path=MCP_PATH, stateless_http=True, json_response=True,
            transport_security=_security(self.runtime.settings.host),
        )  # fmt: skip
        async with self.server.session_manager.run():
            self._app = app
            try:
                yield
            finally:
                self._app = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._app is None:
            await send_detail(send, 503, "the MCP server is not running (the app was started "
                          "without its lifespan)")  # fmt: skip
            return
        client = scope.get("client")
        host = client[0] if client else None
        try:
            principal = principal_for_key(self.runtime, presented_key(Headers(scope=scope)))
        except AuthError as exc:  # guessing keys draws on the address's budget, as on REST
            if not await _within_budget(scope, send, caller_of("", False, host)):
                return
            await send_detail(send, 401, str(exc), [(b"www-authenticate", b"Bearer")])
            return
        scope.setdefault("state", {})["key_id"] = principal.key_id  # for the request log
        # an agent's call draws on its key's query budget
        if not await _within_budget(scope, send, caller_of(principal.key_id,
                                                          self.runtime.settings.auth, host)):
            return  # fmt: skip
        await self._app(scope, receive, send)

    def _principal(self, ctx: Context) -> Principal:
        return principal_for_key(self.runtime, presented_key(ctx.headers or {}))


async def _within_budget(scope: Scope, send: Send, caller: str) -> bool:
    """Draw on `caller`'s query budget, or answer 429 with Retry-After and say so."""
    try:
        scope["app"].state.rate_limits.hit("query", caller)
    except RateLimited as exc:
        retry = [(b"retry-after", str(exc.retry_after).encode())]
        await send_detail(send, 429, str(exc), retry)
        return False
    return True


def serve_stdio(runtime: Runtime, key: str | None, public_url: str) -> None:
    """`shifu mcp`: the tools over stdin/stdout for one desktop agent, as `key`'s principal.
    A bad key fails here, before the agent connects; a key removed later refuses calls."""
    principal_for_key(runtime, key)
    server = build_server(runtime, lambda _: principal_for_key(runtime, key),
                          lambda _: public_url.rstrip("/"), None)  # fmt: skip
    anyio.run(server.run_stdio_async)


def _request_base(ctx: Context) -> str | None:
    """Links point back at the address the agent reached this server by."""
    request: Any = ctx.request_context.request
    url = getattr(request, "url", None)
    return f"{url.scheme}://{url.netloc}" if url is not None else None


def _security(host: str) -> TransportSecuritySettings | None:
    """On loopback, the SDK's DNS-rebinding guard (a web page must not reach a local server
    through a name it controls); on other addresses the API key is the guard."""
    if host not in LOOPBACK:
        return TransportSecuritySettings(enable_dns_rebinding_protection=False)
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=["127.0.0.1:*", "localhost:*", "[::1]:*"],
        allowed_origins=["http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*"],
    )
