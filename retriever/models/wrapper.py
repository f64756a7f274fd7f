"""The base of encoders that wrap another (sentence cache, query batching, deferred loading,
Ray): everything goes to `inner`; a wrapper overrides only what it changes."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from retriever.models.encoder import Encoder, ProgressFn


class WrappedEncoder:
    def __init__(self, inner: Encoder) -> None:
        self._inner = inner

    @property
    def inner(self) -> Encoder:
        return self._inner

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def dim(self) -> int:
        return self.inner.dim

    @property
    def max_tokens(self) -> int:
        return self.inner.max_tokens

    @property
    def precision(self) -> str:
        return self.inner.precision

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return self.inner.count_tokens(texts)

    def encode_passages(
        self, texts: Sequence[str], progress: ProgressFn | None = None
    ) -> np.ndarray:
        return self.inner.encode_passages(texts, progress)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self.inner.encode_queries(texts)
