"""The progress a long step reports (embedding, OCR pages): a total, then steps done."""

from __future__ import annotations

from typing import Protocol


class Progress(Protocol):
    def start(self, total: int) -> None: ...

    def advance(self, n: int) -> None: ...


class NoProgress:
    def start(self, total: int) -> None:
        pass

    def advance(self, n: int) -> None:
        pass


class GrowingProgress:
    """One progress total over groups whose sizes are known one group at a time."""

    def __init__(self, progress: Progress) -> None:
        self._progress = progress
        self._total = 0

    def start(self, total: int) -> None:
        self._total += total
        self._progress.start(self._total)

    def advance(self, n: int) -> None:
        self._progress.advance(n)
