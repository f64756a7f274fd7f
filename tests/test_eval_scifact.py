"""The evaluation pipeline reproduces a published-style BM25 figure on real data."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from ingest.chunking.units import ChunkingConfig
from retriever.models.e5_build import build_e5_folder
from service.evaluation import evaluate
from tests.conftest import EVALDATA
from tests.fakes import FakeEncoder

pytestmark = pytest.mark.real_model


class TokenizerOnlyEncoder(FakeEncoder):
    """The default model's tokenizer, so chunks are cut exactly as in production; no vectors."""

    name = "e5-tokenizer-null-vectors"

    def __init__(self, folder: Path) -> None:
        super().__init__()
        from tokenizers import Tokenizer

        self._tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        encodings = self._tokenizer.encode_batch(list(texts), add_special_tokens=False)
        return [len(e.ids) for e in encodings]

    def _vectors(self, texts: Sequence[str]) -> np.ndarray:
        return np.zeros((len(texts), self.dim), dtype=np.float32)


def test_bm25_on_scifact_matches_the_independent_measurement(
    model_cache: Path, tmp_path: Path
) -> None:
    folder = EVALDATA / "scifact"
    if not folder.is_dir():
        pytest.skip(f"SciFact not found at {folder}")
    encoder = TokenizerOnlyEncoder(build_e5_folder(model_cache / "multilingual-e5-small"))
    result = evaluate(folder, ["bm25"], encoder, tmp_path, ChunkingConfig())
    assert result.queries == 300
    # bm25s k1=0.9 b=0.4, English stopwords + Snowball stemmer, measured outside this project
    assert result.runs[0].metrics["nDCG@10"] == pytest.approx(0.676, abs=0.02)
