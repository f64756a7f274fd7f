"""Distributed embedding for large backfills (optional: `pip install 'laoshifu[ray]'`).

Ray Data runs the embedder as a stateful class in `map_batches`, so each actor loads the model
once and the cluster's CPUs embed in parallel. Everything else stays as in a local ingest:
files are read and chunked here, unchanged chunks keep their stored vectors, and the one writer
of the home writes the vectors (to Milvus or FAISS) and commits the generation, so a
distributed backfill is as atomic and crash-safe as any ingest.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from retriever.lazy import require
from retriever.models.encoder import Encoder, ProgressFn
from retriever.models.wrapper import WrappedEncoder

EncoderLoader = Callable[[], Encoder]  # runs on each actor; must pickle (cloudpickle)


def _ray() -> Any:
    return require("ray", "'laoshifu[ray]'")


class _Embed:
    """One model per Ray actor."""

    def __init__(self, load: EncoderLoader) -> None:
        self._encoder = load()

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        vectors = self._encoder.encode_passages([str(t) for t in batch["text"]])
        return {"row": batch["row"], "vector": np.asarray(vectors, dtype=np.float32)}


class RayEncoder(WrappedEncoder):
    """An Encoder whose passage embedding runs on Ray; queries and token counts stay local."""

    def __init__(
        self, local: Encoder, load: EncoderLoader, workers: int = 2, batch_size: int = 64,
        address: str | None = None,
    ) -> None:  # fmt: skip
        super().__init__(local)
        self._load = load
        self._workers, self._batch_size, self._address = workers, batch_size, address

    def encode_passages(
        self, texts: Sequence[str], progress: ProgressFn | None = None
    ) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        ray = _ray()
        if not ray.is_initialized():
            ray.init(address=self._address, include_dashboard=False, log_to_driver=False,
                     configure_logging=False)  # fmt: skip
        rows = ray.data.from_items([{"row": i, "text": t} for i, t in enumerate(texts)])
        embedded = rows.map_batches(
            _Embed, fn_constructor_kwargs={"load": self._load}, concurrency=self._workers,
            batch_size=self._batch_size, batch_format="numpy",
        )  # fmt: skip
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for batch in embedded.iter_batches(batch_format="numpy", batch_size=self._batch_size):
            out[batch["row"]] = batch["vector"]
            if progress is not None:
                progress(len(batch["row"]))
        return out
