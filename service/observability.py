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
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request, Response

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
    @app.middleware("http")
    async def request_log(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        given = request.headers.get("x-request-id", "")
        request_id = given if _REQUEST_ID.match(given) else uuid.uuid4().hex
        request.state.request_id = request_id
        began = time.perf_counter()
        response = await call_next(request)
        route = getattr(request.scope.get("route"), "path", "unmatched")
        metrics.requests.labels(route, str(response.status_code)).inc()
        if response.status_code >= 400:
            metrics.errors.labels(str(response.status_code)).inc()
        response.headers["X-Request-ID"] = request_id
        logger.info("request", extra={"fields": {
            "request_id": request_id, "method": request.method, "route": route,
            "status": response.status_code, "ms": round((time.perf_counter() - began) * 1000, 1),
            "key_id": getattr(request.state, "key_id", None),
        }})  # fmt: skip
        return response
