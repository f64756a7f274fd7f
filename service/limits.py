"""Request body limits enforced while the body streams in, before any handler parses it: a
declared Content-Length over the limit is refused at once, and a chunked body is counted."""

from __future__ import annotations

import json
from collections.abc import Sequence

from starlette.types import ASGIApp, Message, Receive, Scope, Send

UPLOAD_PATHS = ("/v1/documents",)


class BodyLimit:
    def __init__(self, app: ASGIApp, json_limit: int, upload_limit: int) -> None:
        self.app, self.json_limit, self.upload_limit = app, json_limit, upload_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "DELETE"):
            await self.app(scope, receive, send)
            return
        upload = scope["path"] in UPLOAD_PATHS
        # multipart framing adds a little to the files themselves
        limit = self.upload_limit + 64 * 1024 if upload else self.json_limit
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _too_large(send, limit)
            return
        seen, refused = 0, False

        async def counted() -> Message:
            # over the limit: answer 413 now and tell the app the client has gone, so it stops
            # reading; whatever it then tries to send is dropped
            nonlocal seen, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > limit:
                refused = True
                await _too_large(send, limit)
                return {"type": "http.disconnect"}
            return message

        async def guarded(message: Message) -> None:
            if not refused:
                await send(message)

        await self.app(scope, counted, guarded)


async def _too_large(send: Send, limit: int) -> None:
    await send_detail(send, 413, f"request body over the limit of {limit} bytes")


async def send_detail(
    send: Send, status: int, detail: str, headers: Sequence[tuple[bytes, bytes]] = ()
) -> None:
    """An error answered below the routes, in the same {"detail": ...} body as theirs."""
    payload = json.dumps({"detail": detail}).encode()
    sized = [(b"content-type", b"application/json"),
             (b"content-length", str(len(payload)).encode()), *headers]  # fmt: skip
    await send({"type": "http.response.start", "status": status, "headers": sized})
    await send({"type": "http.response.body", "body": payload})
