"""A small deterministic encoder for tests where the model does not matter."""

from __future__ import annotations

import re
import zlib
from collections.abc import Sequence

import numpy as np

from retriever.models.encoder import ProgressFn

_TOKEN = re.compile(r"[a-z0-9]+|[\u3400-\u9fff]")


def fake_tokens(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


class FakeEncoder:
    """Hashed bag of words and CJK characters: exact wording matches score highest."""

    name = "fake-hash-1024"
    dim = 1024
    max_tokens = 500
    precision = "fp32"

    def __init__(self) -> None:
        self.embedded: list[str] = []

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return [len(fake_tokens(t)) for t in texts]

    def encode_passages(
        self, texts: Sequence[str], progress: ProgressFn | None = None
    ) -> np.ndarray:
        self.embedded.extend(texts)
        if progress is not None:
            progress(len(texts))
        return self._vectors(texts)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._vectors(texts)

    def _vectors(self, texts: Sequence[str]) -> np.ndarray:
        matrix = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for token in fake_tokens(text):
                matrix[row, zlib.crc32(token.encode()) % self.dim] += 1.0
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        return matrix / np.maximum(norms, 1e-9)
