"""What is derived from the last list a caller asked with, kept while the same list object comes
back. A snapshot hands back one allowed-chunk list per filter criteria, so a BM25 mask or a
FAISS selector built from it (costly at a million ids) is built once, not per query."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

Value = TypeVar("Value")


class KeptForList(Generic[Value]):
    """One entry, keyed by identity; the list itself is held, so a recycled id cannot match."""

    def __init__(self) -> None:
        self._last: tuple[Sequence[int], Value] | None = None
        self._lock = threading.Lock()

    def get(self, key: Sequence[int], make: Callable[[Sequence[int]], Value]) -> Value:
        with self._lock:
            last = self._last
        if last is not None and last[0] is key:
            return last[1]
        value = make(key)
        with self._lock:
            self._last = (key, value)
        return value
