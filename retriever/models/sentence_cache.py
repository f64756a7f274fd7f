"""Sentence vectors for cross-script highlights, remembered: the same SOP steps answer many
questions, and embedding their sentences again is the costliest part of such a query."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence

import numpy as np

from retriever.models.encoder import Encoder
from retriever.models.wrapper import WrappedEncoder

MAX_SENTENCES = 20_000  # about 30 MB of 384-dimension float32 vectors


class CachingEncoder(WrappedEncoder):
    """An encoder that also offers `encode_sentences`, cached by text (least recently used
    evicted); everything else is the wrapped encoder's, uncached."""

    def __init__(self, inner: Encoder, capacity: int = MAX_SENTENCES) -> None:
        super().__init__(inner)
        self._capacity = capacity
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def encode_sentences(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            known = {t: self._vectors[t] for t in set(texts) if t in self._vectors}
            for text in known:
                self._vectors.move_to_end(text)
        missing = [t for t in dict.fromkeys(texts) if t not in known]
        fresh = (
            dict(zip(missing, self.inner.encode_passages(missing), strict=True)) if missing else {}
        )
        with self._lock:
            self._vectors.update(fresh)
            while len(self._vectors) > self._capacity:
                self._vectors.popitem(last=False)
        vectors = {**known, **fresh}
        return np.vstack([vectors[t] for t in texts])
