"""BM25 scores built from token rows in one streamed pass, in bm25s's layout.

bm25s's own `index` holds every passage's token list as Python strings at once (and then as
lists of ids): about 11 GB at a million passages, which the OOM killer ended. Here each block of
rows becomes compact arrays (a passage's distinct token ids and their counts) as it is read, and
the scores are computed from those arrays. The formulas are bm25s's Lucene variant, in the same
precision, so the scores are the same as `bm25s.BM25.index` gives.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from retriever.lazy import require

BLOCK_ROWS = 4096  # passages turned into arrays at a time
_SCORE_SLICE = 1 << 22  # postings scored at a time, so the float64 temporaries stay small


@dataclass(frozen=True)
class Postings:
    """Each passage's distinct token ids (`columns`) and counts, rows delimited by `indptr`."""

    columns: np.ndarray  # int32
    counts: np.ndarray  # float32
    indptr: np.ndarray  # int64, one more than the passages
    lengths: np.ndarray  # tokens per passage, repeats counted


def bm25_scores(
    rows: Iterable[Sequence[str]], k1: float, b: float
) -> tuple[dict[str, Any], dict[str, int]]:
    """bm25s's `scores` (a passages × vocabulary CSC matrix) and `vocab_dict` for `rows`."""
    vocab: dict[str, int] = {}
    postings = _postings(rows, vocab)
    n_docs, n_vocab = len(postings.lengths), len(vocab)
    frequencies = np.bincount(postings.columns, minlength=n_vocab)
    idf = np.log(1 + (n_docs - frequencies + 0.5) / (frequencies + 0.5)).astype(np.float32)
    idf[frequencies == 0] = 0.0
    average = float(np.mean(postings.lengths)) if n_docs else 0.0
    data = _scored(postings, idf, k1, b, average)
    matrix = require("scipy.sparse", "scipy").csr_matrix(
        (data, postings.columns, postings.indptr), shape=(n_docs, n_vocab)
    ).tocsc()
    vocab.setdefault("", max(vocab.values(), default=-1) + 1)  # as bm25s: outside the matrix
    scores = {"data": matrix.data, "indices": matrix.indices, "indptr": matrix.indptr,
              "num_docs": n_docs}  # fmt: skip
    return scores, vocab


def _postings(rows: Iterable[Sequence[str]], vocab: dict[str, int]) -> Postings:
    columns: list[np.ndarray] = []
    counts: list[np.ndarray] = []
    per_row: list[np.ndarray] = []
    lengths: list[np.ndarray] = []
    for block in _blocks(rows):
        ids = np.fromiter((vocab.setdefault(t, len(vocab)) for r in block for t in r), np.int64)
        length = np.fromiter((len(r) for r in block), np.int64, count=len(block))
        row_of = np.repeat(np.arange(len(block), dtype=np.int64), length)
        keys, count = np.unique((row_of << 32) | ids, return_counts=True)  # by row, then id
        columns.append((keys & 0xFFFFFFFF).astype(np.int32))
        counts.append(count.astype(np.float32))
        per_row.append(np.bincount(keys >> 32, minlength=len(block)))
        lengths.append(length)
    indptr = np.concatenate([[0], np.cumsum(_joined(per_row, np.int64))]).astype(np.int64)
    return Postings(_joined(columns, np.int32), _joined(counts, np.float32), indptr,
                    _joined(lengths, np.int64))  # fmt: skip


def _blocks(rows: Iterable[Sequence[str]]) -> Iterator[list[Sequence[str]]]:
    block: list[Sequence[str]] = []
    for row in rows:
        block.append(row)
        if len(block) == BLOCK_ROWS:
            yield block
            block = []
    if block:
        yield block


def _joined(parts: list[np.ndarray], dtype: type) -> np.ndarray:
    return np.concatenate(parts).astype(dtype, copy=False) if parts else np.zeros(0, dtype)


def _scored(postings: Postings, idf: np.ndarray, k1: float, b: float, average: float) -> np.ndarray:
    """idf × Robertson's term-frequency part, per posting (bm25s's float32 idf, float64 tfc)."""
    data = np.empty(len(postings.columns), dtype=np.float32)
    for start in range(0, len(data), _SCORE_SLICE):
        part = slice(start, start + _SCORE_SLICE)
        at = np.arange(start, min(start + _SCORE_SLICE, len(data)))
        length = postings.lengths[np.searchsorted(postings.indptr, at, side="right") - 1]
        tf = postings.counts[part].astype(np.float64)
        tfc = tf / (k1 * ((1 - b) + b * length / average) + tf)
        data[part] = idf[postings.columns[part]] * tfc
    return data

