"""Optional cross-encoder reranking. No PyPI package ships reranker weights usable offline, so
the stage is off unless a local CrossEncoder folder is configured (SHIFU_RERANKER)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from retriever.models.encoder import EncoderError, sentence_transformers, set_offline_flags


class Reranker(Protocol):
    def score(self, question: str, texts: Sequence[str]) -> list[float]: ...


class CrossEncoderReranker:
    def __init__(self, model: Any) -> None:
        self._model = model

    def score(self, question: str, texts: Sequence[str]) -> list[float]:
        if not texts:
            return []
        scores = self._model.predict([(question, t) for t in texts], show_progress_bar=False)
        return [float(s) for s in scores]


def load_reranker(folder: Path) -> CrossEncoderReranker:
    if not folder.is_dir():
        raise EncoderError(f"reranker folder {folder} does not exist")
    set_offline_flags()
    cross_encoder = sentence_transformers().CrossEncoder
    try:
        return CrossEncoderReranker(cross_encoder(str(folder), device="cpu"))
    except (OSError, ValueError) as exc:
        raise EncoderError(f"cannot load reranker from {folder}: {exc}") from exc
