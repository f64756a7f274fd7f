"""Distributed embedding on Ray (laoshifu[ray]): the same index as a local ingest, with passages
embedded on actors and nothing but the query side left to the local encoder."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from ingest.distributed import RayEncoder
from retriever.ranking.search import search
from service.runtime import Runtime
from service.settings import Settings
from tests.fakes import FakeEncoder

ray = pytest.importorskip("ray")


@pytest.fixture(scope="module", autouse=True)
def local_ray() -> Iterator[None]:
    """One small local Ray for the module: two CPUs, no dashboard, shut down after."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    _start_ray()
    yield
    ray.shutdown()


START_ATTEMPTS = 3  # Ray gives its raylet a fixed 30 s to start, which a busy machine can miss


def _start_ray() -> None:
    for attempt in range(1, START_ATTEMPTS + 1):
        try:
            ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
                     configure_logging=False)  # fmt: skip
            return
        except Exception as exc:  # Ray raises a bare Exception when its node times out
            ray.shutdown()
            if attempt == START_ATTEMPTS or "timed out during startup" not in str(exc):
                raise


class _LocalOnly(FakeEncoder):
    """Refuses passage embedding, so a test sees that none ran in this process."""

    def encode_passages(self, texts, progress=None):  # type: ignore[no-untyped-def]
        raise AssertionError("passages must be embedded on Ray actors")


def test_ray_encoder_returns_the_local_vectors_in_input_order() -> None:
    texts = [f"step {i}: 降低射出壓力 {i} bar" for i in range(150)]
    seen: list[int] = []
    encoder = RayEncoder(_LocalOnly(), FakeEncoder, workers=2, batch_size=16)
    vectors = encoder.encode_passages(texts, progress=seen.append)
    assert np.array_equal(vectors, FakeEncoder().encode_passages(texts))
    assert sum(seen) == len(texts)
    assert encoder.encode_passages([]).shape == (0, FakeEncoder.dim)


def test_a_ray_ingest_builds_the_same_index(corpus_copy: Path, tmp_path: Path) -> None:
    question = "lockout steps before clearing a jam"

    def top_hits(settings: Settings, local: FakeEncoder) -> list[int]:
        runtime = Runtime(settings, encoder_factory=lambda _: local)
        summary = runtime.ingest([corpus_copy], prune=False, progress=None)
        assert summary.failed == 0 and summary.embedded == summary.chunks > 0
        with runtime.reading() as snapshot:
            return [p.chunk_id for p in search(snapshot, FakeEncoder(), question, k=5).passages]

    plain = top_hits(Settings(home=tmp_path / "plain"), FakeEncoder())
    local = FakeEncoder()
    assert top_hits(Settings(home=tmp_path / "ray", ray_workers=2), local) == plain
    # each actor embedded with its own copy from the factory; this process embedded nothing
    assert local.embedded == []
