"""An encoder that loads its model on first use, so a command that turns out to need none (an
unchanged re-ingest, a BM25 query) never pays the seconds torch and the model take."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

import numpy as np

from retriever.models.encoder import Encoder
from retriever.models.wrapper import WrappedEncoder


class DeferredEncoder(WrappedEncoder):
    """`name`, when known without the model (from the setting), is answered without loading
    it; everything else loads it."""

    def __init__(self, name: str | None, load: Callable[[], Encoder]) -> None:
        self._name = name
        self._load = load
        self._encoder: Encoder | None = None
        self._lock = threading.Lock()  # no super().__init__: the inner encoder is not there yet

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
        encode = getattr(self.inner, "encode_sentences", self.inner.encode_passages)
        vectors: np.ndarray = encode(texts)
        return vectors
