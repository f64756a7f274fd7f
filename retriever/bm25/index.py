"""BM25 over chunk texts (bm25s, imported lazily); rows map to chunk ids explicitly."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from retriever.bm25.build import bm25_scores
from retriever.bm25.tokens import sparse_tokens
from retriever.bm25.translation import Expansion, Lexicon, expansions
from retriever.kept import KeptForList
from retriever.lazy import require

# Lucene-style BM25 with the parameters BEIR baselines use (Pyserini's k1=0.9, b=0.4)
BM25_K1 = 0.9
BM25_B = 0.4
_EMPTY = "\u2205"  # stands in for a text with no tokens at all
COMMON_SHARE = 0.1  # a token in more than this share of the passages is not translated


def _bm25s() -> Any:
    return require("bm25s", "bm25s")


class SparseIndex:
    def __init__(self, bm25: Any, chunk_ids: list[int]) -> None:
        self._bm25 = bm25
        self._chunk_ids = chunk_ids
        self._ids = np.asarray(chunk_ids, dtype=np.int64)
        self._masks: KeptForList[np.ndarray] = KeptForList()

    @classmethod
    def build(cls, rows: Iterable[tuple[int, Sequence[str]]]) -> SparseIndex:
        """The index of (chunk id, tokens) rows, streamed: a million passages fit in memory."""
        chunk_ids: list[int] = []

        def tokens() -> Iterator[Sequence[str]]:
            for chunk_id, row in rows:
                chunk_ids.append(chunk_id)
                # an empty row would score nothing; bm25s's own index drops it and shifts the ids
                yield row or [_EMPTY]
            if not chunk_ids:  # an index of no passages (its last document removed)
                yield [_EMPTY]  # holds one placeholder row, never returned

        bm25 = _bm25s().BM25(k1=BM25_K1, b=BM25_B)
        bm25.scores, bm25.vocab_dict = bm25_scores(tokens(), BM25_K1, BM25_B)
        bm25.unique_token_ids_set = set(bm25.vocab_dict.values())
        bm25.nonoccurrence_array = None  # Lucene BM25 has none
        return cls(bm25, chunk_ids)

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self._bm25.save(str(folder), show_progress=False)
        np.save(folder / "chunk_ids.npy", np.asarray(self._chunk_ids, dtype=np.int64))

    @classmethod
    def load(cls, folder: Path) -> SparseIndex:
        bm25 = _bm25s().BM25.load(str(folder), show_progress=False)
        return cls(bm25, np.load(folder / "chunk_ids.npy").tolist())

    def search_many(
        self,
        queries: Sequence[str],
        k: int,
        allowed_ids: Sequence[int] | None = None,
        found: Sequence[list[Expansion] | None] | None = None,
    ) -> list[list[tuple[int, float]]]:
        """A query with expansions (`found[i]`, see translation.py) also carries its words'
        translations, each word weighing as one, so it can match passages in the other script
        on the same BM25 scale as those in its own."""
        if found is not None and any(f is not None for f in found):
            return [self._weighted(q, k, allowed_ids, f or [])
                    for q, f in zip(queries, found, strict=True)]  # fmt: skip
        results: list[list[tuple[int, float]]] = [[] for _ in queries]
        tokens = [sparse_tokens(q) for q in queries]
        asked = [i for i, t in enumerate(tokens) if t]  # no tokens, nothing can match
        if not self._chunk_ids or k <= 0 or not asked:
            return results
        rows, scores = self._bm25.retrieve(
            [tokens[i] for i in asked], k=min(k, len(self._chunk_ids)), show_progress=False,
            # n_threads=0 maps in this thread: a pool per call costs more than one query's scoring
            weight_mask=self._mask(allowed_ids), n_threads=0,
        )  # fmt: skip
        for i, row, score in zip(asked, rows, scores, strict=True):
            results[i] = [
                (self._chunk_ids[int(r)], float(s))
                for r, s in zip(row, score, strict=True)
                if s > 0
            ]
        return results

    def _weighted(
        self, query: str, k: int, allowed_ids: Sequence[int] | None, found: list[Expansion]
    ) -> list[tuple[int, float]]:
        """BM25 of a query whose tokens weigh differently: its own 1 each, a translated word's
        its expansion's weight (summed from the index's per-token score columns)."""
        weighted = [(t, 1.0) for t in sparse_tokens(query)]
        weighted += [(t, e.weight) for e in found for t in e.tokens]
        if not self._chunk_ids or k <= 0 or not weighted:
            return []
        columns, scores = self._bm25.scores, np.zeros(len(self._chunk_ids), dtype=np.float32)
        for token, weight in weighted:
            column = self._bm25.vocab_dict.get(token)
            if column is None or column + 1 >= len(columns["indptr"]):
                continue
            start, end = columns["indptr"][column], columns["indptr"][column + 1]
            scores[columns["indices"][start:end]] += weight * columns["data"][start:end]
        mask = self._mask(allowed_ids)
        if mask is not None:
            scores *= mask
        top = min(k, len(scores))
        best = np.argpartition(-scores, top - 1)[:top]
        best = best[np.argsort(-scores[best], kind="stable")]
        return [(self._chunk_ids[int(r)], float(scores[r])) for r in best if scores[r] > 0]

    def search(
        self, query: str, k: int, allowed_ids: Sequence[int] | None = None
    ) -> list[tuple[int, float]]:
        return self.search_many([query], k, allowed_ids)[0]

    def expansions(self, question: str, lexicon: Lexicon) -> list[Expansion]:
        """The question's words in the other script, with the tokens this index holds."""
        return expansions(question, lexicon, self._known, self._common)

    def _known(self, token: str) -> bool:
        return token in self._bm25.vocab_dict

    def _common(self, token: str) -> bool:
        column = self._bm25.vocab_dict.get(token)
        indptr = self._bm25.scores["indptr"]
        if column is None or column + 1 >= len(indptr):
            return False
        passages = int(indptr[column + 1] - indptr[column])
        return passages > COMMON_SHARE * max(len(self._chunk_ids), 1)

    def _mask(self, allowed_ids: Sequence[int] | None) -> np.ndarray | None:
        if allowed_ids is None:
            return None
        return self._masks.get(allowed_ids, self._built_mask)

    def _built_mask(self, allowed_ids: Sequence[int]) -> np.ndarray:
        return np.isin(self._ids, np.asarray(allowed_ids, dtype=np.int64)).astype(np.float32)
