"""Questions that arrive together are encoded in one model call: a server's concurrent queries
share a batch instead of queueing for the model one by one.

No thread of its own: the first caller to find no batch forming leads one. It waits for others
to join while they keep arriving (each gap at most `gap` seconds, the whole wait at most `wait`),
and then for a free model slot, then encodes the batch and hands every caller its own rows. A
caller alone waits one gap, a few milliseconds.

Slots: as many model calls at once as the machine has cores, each computing on one core. A
question batch is too small for torch to split well over cores: on 2 cores, a call of 2 texts
took 45 ms on one thread and 49 ms on two. Callers arriving while every slot is busy join the
next batch. Measured in-process with 8 clients on 2 cores (hybrid, the sample corpus): a call
at a time on 2 threads gave 37.9 q/s (and a new call per batch, overlapping on 2 threads each,
26); two calls on one thread each gave 49.6.
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from retriever.models.encoder import Encoder
from retriever.models.precision import model_threads
from retriever.models.wrapper import WrappedEncoder

GAP_SECONDS = 0.002  # a batch closes when no question arrived for this long
WAIT_SECONDS = 0.010  # and at the latest this long after it opened
MAX_BATCH = 32  # questions per model call
BATCHES_KEPT = 1000


@dataclass
class _Request:
    texts: list[str]
    done: threading.Event = field(default_factory=threading.Event)
    vectors: np.ndarray | None = None
    error: BaseException | None = None


class BatchingEncoder(WrappedEncoder):
    """An Encoder whose `encode_queries` batches concurrent callers; all else is the inner
    encoder's."""

    def __init__(
        self, inner: Encoder, gap: float = GAP_SECONDS, wait: float = WAIT_SECONDS,
        max_batch: int = MAX_BATCH, slots: int | None = None,
    ) -> None:  # fmt: skip
        super().__init__(inner)
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
        self._slots = slots or cores or 1
        self._threads = max(1, (cores or 1) // self._slots)  # per model call
        self._gap, self._wait, self._max_batch = gap, wait, max_batch
        self._cond = threading.Condition()
        self._forming: list[_Request] = []
        self._leading = False
        self._busy = 0  # model calls running
        # questions per recent model call, for tests and benchmarks
        self.batches: deque[int] = deque(maxlen=BATCHES_KEPT)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        request = _Request(list(texts))
        with self._cond:
            self._forming.append(request)
            leads, self._leading = not self._leading, True
            self._cond.notify_all()
        if leads:
            self._run(self._collect())
        else:
            request.done.wait()
        if request.error is not None:
            raise request.error
        assert request.vectors is not None
        return request.vectors

    def _collect(self) -> list[_Request]:
        """Wait while questions keep arriving and while every slot is busy, then take the batch
        (it may outgrow `max_batch` meanwhile: the encoder splits it) and let the next form."""
        opened = time.monotonic()
        with self._cond:
            while sum(len(r.texts) for r in self._forming) < self._max_batch:
                seen = len(self._forming)
                left = min(self._gap, opened + self._wait - time.monotonic())
                if left <= 0 or not self._cond.wait(left) or len(self._forming) == seen:
                    break
            while self._busy >= self._slots:
                self._cond.wait()
            batch, self._forming, self._leading = self._forming, [], False
            self._busy += 1
        return batch

    def _run(self, batch: list[_Request]) -> None:
        texts = [text for request in batch for text in request.texts]
        self.batches.append(len(texts))
        try:
            with model_threads(self._threads):
                vectors = self.inner.encode_queries(texts)
        except BaseException as exc:  # every caller of the batch gets the failure
            self._free()
            for request in batch:
                request.error = exc
                request.done.set()
            return
        self._free()
        start = 0
        for request in batch:
            request.vectors = vectors[start : start + len(request.texts)]
            start += len(request.texts)
            request.done.set()

    def _free(self) -> None:
        with self._cond:
            self._busy -= 1
            self._cond.notify_all()
