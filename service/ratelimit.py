"""Per-key rate limits (OWASP API4): one key cannot take the two cores from everyone else.

Each key has a budget per class of route: `query` (searches, documents, the glossary, MCP),
`upload` (adding and deleting documents) and `admin` (feedback export, the audit log). A class
allows RATE requests a second with bursts of BURST: a moving window of BURST requests over
BURST / RATE seconds (the `limits` library's moving-window limiter, in memory). Without auth
(loopback --no-auth) the client's address stands in for the key, so limits still hold.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from retriever.lazy import require
from service.settings import Settings

RouteClass = Literal["query", "upload", "admin"]
ROUTE_CLASSES: tuple[RouteClass, ...] = ("query", "upload", "admin")


class RateLimited(Exception):
    """The caller's budget for a class is used up; retry after `retry_after` seconds."""

    def __init__(self, route_class: RouteClass, retry_after: int) -> None:
        super().__init__(f"rate limit for {route_class} requests reached; retry in "
                         f"{retry_after} s")  # fmt: skip
        self.route_class, self.retry_after = route_class, retry_after


@dataclass(frozen=True)
class Budget:
    rate: float  # requests a second, sustained; 0 turns the limit off
    burst: int  # requests at once

    @property
    def window_s(self) -> int:
        return max(1, math.ceil(self.burst / self.rate))


def route_class(method: str, path: str) -> RouteClass | None:
    """Which budget a request draws on; None for what is never limited (health, metrics,
    the page, signed links to originals)."""
    if not (path.startswith("/v1/") or path == "/mcp") or path in ("/v1/health", "/v1/ready"):
        return None
    if (path == "/v1/documents" and method == "POST") or method == "DELETE":
        return "upload"
    if path.startswith("/v1/audit") or (path == "/v1/feedback" and method == "GET"):
        return "admin"
    return "query"


def budgets(settings: Settings) -> dict[RouteClass, Budget]:
    return {
        "query": Budget(settings.rate_query, settings.burst_query),
        "upload": Budget(settings.rate_upload, settings.burst_upload),
        "admin": Budget(settings.rate_admin, settings.burst_admin),
    }


def caller_of(key_id: str, auth: bool, client_host: str | None) -> str:
    """Whose budget a request draws on: its key, or its address when keys are off."""
    return key_id if auth else f"address:{client_host or 'unknown'}"


class RateLimits:
    def __init__(
        self, budgets: dict[RouteClass, Budget], refused: Callable[[RouteClass], None]
    ) -> None:
        self._refused = refused  # counts a 429 in the metrics
        limits = require("limits", "limits")
        self._limiter = limits.strategies.MovingWindowRateLimiter(limits.storage.MemoryStorage())
        self._items = {
            name: limits.RateLimitItemPerSecond(budget.burst, budget.window_s)
            for name, budget in budgets.items()
            if budget.rate > 0
        }

    def hit(self, route: RouteClass, caller: str) -> None:
        """Count one request of `caller` (a key id), or RateLimited when over budget."""
        item = self._items.get(route)
        if item is None or self._limiter.hit(item, route, caller):
            return
        reset_at, _ = self._limiter.get_window_stats(item, route, caller)
        self._refused(route)
        raise RateLimited(route, max(1, math.ceil(reset_at - time.time())))
