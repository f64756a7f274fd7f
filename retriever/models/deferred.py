"""An encoder that loads its model on first use, so a command that turns out to need none (an
unchanged re-ingest, a BM25 query) never pays the seconds torch and the model take."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

import numpy as np

from retriever.models.encoder import Encoder, ProgressFn


class DeferredEncoder:
    """`name`, when known without the model (from the setting), is answered without loading
    it; everything else loads it."""

    def __init__(self, name: str | None, load: Callable[[], Encoder]) -> None:
        self._name = name
        self._load = load
        self._encoder: Encoder | None = None
        self._lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        return self._encoder is not None

    @property
    def encoder(self) -> Encoder:
        with self._lock:
            if self._encoder is None:
                self._encoder = self._load()
            return self._encoder

    @property
    def name(self) -> str:
        return self._name if self._name is not None else self.encoder.name

    @property
    def dim(self) -> int:
        return self.encoder.dim

    @property
    def max_tokens(self) -> int:
        return self.encoder.max_tokens

    @property
    def precision(self) -> str:
        return self.encoder.precision

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return self.encoder.count_tokens(texts)

    def encode_passages(
        self, texts: Sequence[str], progress: ProgressFn | None = None
    ) -> np.ndarray:
        return self.encoder.encode_passages(texts, progress)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self.encoder.encode_queries(texts)

    def encode_sentences(self, texts: Sequence[str]) -> np.ndarray:
        """Highlight sentences: the loaded encoder's cached path where it has one."""
        encode = getattr(self.encoder, "encode_sentences", self.encoder.encode_passages)
        vectors: np.ndarray = encode(texts)
        return vectors
