"""Metrics (Prometheus, one registry per app) and structured request logs with a request id.

Logs carry the method, route, status, duration, request id and key id; never a question,
a document's text or a key.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from typing import Any

from fastapi import FastAPI
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from retriever.lazy import require

logger = logging.getLogger("shifu.http")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    def __init__(self) -> None:
        prometheus = require("prometheus_client", "prometheus-client")
        self.registry = prometheus.CollectorRegistry()
        self.queries = prometheus.Counter(
            "shifu_queries", "queries answered", ["mode"], registry=self.registry
        )
        self.query_seconds = prometheus.Histogram(
            "shifu_query_seconds", "query latency", ["mode"], buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )  # fmt: skip
        self.ingested = prometheus.Counter(
            "shifu_ingested_files", "files through ingest", ["status"], registry=self.registry
        )
        self.requests = prometheus.Counter(
            "shifu_http_requests", "HTTP requests", ["route", "status"], registry=self.registry
        )
        self.mcp_calls = prometheus.Counter(
            "shifu_mcp_calls", "MCP tool calls (ok, refused, error)", ["tool", "outcome"],
            registry=self.registry,
        )  # fmt: skip
        self.watch_ingests = prometheus.Counter(
            "shifu_watch_ingests", "ingests of a watched folder's changes (ok, failed, error)",
            ["outcome"], registry=self.registry,
        )  # fmt: skip
        self.watch_pending = prometheus.Gauge(
            "shifu_watch_pending", "watched files changed and not yet ingested",
            registry=self.registry,
        )  # fmt: skip
        self.rate_limited = prometheus.Counter(
            "shifu_rate_limited", "requests refused with 429, by route class", ["route_class"],
            registry=self.registry,
        )  # fmt: skip
        self.errors = prometheus.Counter(
            "shifu_errors", "error responses (4xx and 5xx)", ["status"], registry=self.registry
        )

    def render(self) -> tuple[bytes, str]:
        prometheus = require("prometheus_client", "prometheus-client")
        return prometheus.generate_latest(self.registry), prometheus.CONTENT_TYPE_LATEST

    def count_rate_limited(self, route_class: str) -> None:
        self.rate_limited.labels(route_class).inc()

    def count_ingest(self, files: list[dict[str, str]]) -> None:
        for row in files:
            self.ingested.labels(row["status"]).inc()


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": round(record.created, 3), "level": record.levelname.lower(),
            "logger": record.name, "message": record.getMessage(),
        }  # fmt: skip
        entry.update(getattr(record, "fields", {}))
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info).splitlines()[-1]
        return json.dumps(entry, ensure_ascii=False)


def configure_json_logs(level: int = logging.INFO) -> None:
    """Called by `shifu serve`, not at import: one JSON object per line on stderr."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger("shifu")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False


def install(app: FastAPI, metrics: Metrics) -> None:
    app.add_middleware(RequestLog, metrics=metrics)


class RequestLog:
    """A request id (the client's `X-Request-ID` when well formed), the request counters and
    one log line per request. Plain ASGI: Starlette's `@app.middleware("http")` wraps every
    response in streams and a task group, a measurable share of a 3 ms query."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = Headers(scope=scope).get("x-request-id", "")
        request_id = given if _REQUEST_ID.match(given) else uuid.uuid4().hex
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        began, status = time.perf_counter(), 500

        async def tagged(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message)["X-Request-ID"] = request_id
            await send(message)

        try:
            await self.app(scope, receive, tagged)
        finally:
            self._record(scope, state, status, began)

    def _record(self, scope: Scope, state: dict[str, Any], status: int, began: float) -> None:
        route = getattr(scope.get("route"), "path", "unmatched")
        self.metrics.requests.labels(route, str(status)).inc()
        if status >= 400:
            self.metrics.errors.labels(str(status)).inc()
        logger.info("request", extra={"fields": {
            "request_id": state["request_id"], "method": scope["method"], "route": route,
            "status": status, "ms": round((time.perf_counter() - began) * 1000, 1),
            "key_id": state.get("key_id"),
        }})  # fmt: skip
