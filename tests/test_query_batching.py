"""Queries that arrive together are encoded in one model call, and each caller gets the vector
of its own question."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import numpy as np
import pytest

from retriever.models.batching import BatchingEncoder
from tests.fakes import FakeEncoder

QUESTIONS = [f"question {i}: torque of bolt M{i} on line L{i % 3}" for i in range(16)]


class SlowEncoder(FakeEncoder):
    """Holds the model call long enough for concurrent callers to pile up behind it."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[int] = []
        self.release = threading.Event()

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        self.calls.append(len(texts))
        self.release.wait(timeout=10)
        return super().encode_queries(texts)


def test_concurrent_callers_share_a_batch_and_get_their_own_vectors() -> None:
    inner = SlowEncoder()
    batching = BatchingEncoder(inner, gap=0.05, wait=2.0)
    results: dict[int, np.ndarray] = {}
    barrier = threading.Barrier(len(QUESTIONS))

    def ask(i: int) -> None:
        barrier.wait()
        results[i] = batching.encode_queries([QUESTIONS[i]])

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(len(QUESTIONS))]
    for thread in threads:
        thread.start()
    inner.release.set()
    for thread in threads:
        thread.join(timeout=20)
    expected = FakeEncoder().encode_queries(QUESTIONS)
    assert sorted(results) == list(range(len(QUESTIONS)))
    for i, vector in results.items():
        assert vector.shape == (1, inner.dim)
        np.testing.assert_array_equal(vector[0], expected[i])
    assert sum(inner.calls) == len(QUESTIONS)
    assert len(inner.calls) < len(QUESTIONS) / 2, inner.calls  # batched, not one call each


def test_callers_arriving_while_every_slot_is_busy_join_the_next_batch() -> None:
    class Counting(SlowEncoder):
        def __init__(self) -> None:
            super().__init__()
            self.running = self.most = 0
            self.lock = threading.Lock()

        def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
            with self.lock:
                self.running += 1
                self.most = max(self.most, self.running)
            try:
                return super().encode_queries(texts)
            finally:
                with self.lock:
                    self.running -= 1

    inner = Counting()
    batching = BatchingEncoder(inner, gap=0.001, wait=0.01, slots=1)
    first = threading.Thread(target=batching.encode_queries, args=(["first"],))
    first.start()
    while not inner.calls:  # the first call holds the only slot
        threading.Event().wait(0.001)
    later = [threading.Thread(target=batching.encode_queries, args=([q],)) for q in QUESTIONS]
    for thread in later:
        thread.start()
    threading.Event().wait(0.2)  # well past every gap and wait: they queue for the slot
    inner.release.set()
    for thread in [first, *later]:
        thread.join(timeout=20)
    assert inner.calls == [1, len(QUESTIONS)] and inner.most == 1


def test_a_lone_caller_and_a_large_request_are_not_held() -> None:
    batching = BatchingEncoder(FakeEncoder(), gap=0.001, wait=5.0)
    vectors = batching.encode_queries(QUESTIONS * 3)  # over the batch size: no waiting
    np.testing.assert_array_equal(vectors, FakeEncoder().encode_queries(QUESTIONS * 3))
    assert batching.encode_queries(["one"]).shape == (1, FakeEncoder.dim)
    assert list(batching.batches) == [48, 1]


def test_a_failed_model_call_fails_every_caller_of_its_batch() -> None:
    class Broken(FakeEncoder):
        def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
            raise RuntimeError("model crashed")

    with pytest.raises(RuntimeError, match="model crashed"):
        BatchingEncoder(Broken()).encode_queries(["x"])
