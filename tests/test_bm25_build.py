"""The streamed BM25 build gives bm25s's own scores, and reads the chunks a page at a time."""

from __future__ import annotations

import json
from itertools import islice
from pathlib import Path

import bm25s
import numpy as np
import pytest
import scipy.sparse as sp

from retriever.bm25 import build
from retriever.bm25.index import BM25_B, BM25_K1, SparseIndex
from retriever.bm25.tokens import sparse_tokens
from retriever.records import Chunk, Document
from retriever.store.metadata import MetadataDB
from tests.conftest import EVALDATA


def _texts(count: int) -> list[str]:
    texts: list[str] = []
    for name in ("scifact", "drcd-dev"):  # English and Traditional Chinese
        with (EVALDATA / name / "corpus.jsonl").open(encoding="utf-8") as handle:
            texts += [json.loads(line)["text"] for line in islice(handle, count // 2)]
    return texts


def _columns(scores: dict, vocab: dict[str, int]) -> dict[str, np.ndarray]:
    n_vocab = len(scores["indptr"]) - 1
    matrix = sp.csc_matrix((scores["data"], scores["indices"], scores["indptr"]),
                           shape=(scores["num_docs"], n_vocab))  # fmt: skip
    return {t: matrix[:, c].toarray().ravel() for t, c in vocab.items() if c < n_vocab}


def test_streamed_scores_equal_bm25s_own_index(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(build, "BLOCK_ROWS", 7)  # many blocks, one left over
    monkeypatch.setattr(build, "_SCORE_SLICE", 1000)
    tokens = [sparse_tokens(t) for t in _texts(120)]
    reference = bm25s.BM25(k1=BM25_K1, b=BM25_B)
    reference.index(tokens, show_progress=False)
    scores, vocab = build.bm25_scores(iter(tokens), BM25_K1, BM25_B)
    assert set(vocab) == set(reference.vocab_dict) and "" in vocab
    assert scores["num_docs"] == len(tokens)
    ours, theirs = _columns(scores, vocab), _columns(reference.scores, reference.vocab_dict)
    assert ours.keys() == theirs.keys()
    for token, column in theirs.items():
        np.testing.assert_allclose(ours[token], column, rtol=1e-6, err_msg=token)


def test_a_streamed_index_ranks_as_bm25s_and_keeps_empty_rows_in_place() -> None:
    texts = _texts(60)
    rows = [(100 + i, sparse_tokens(t)) for i, t in enumerate(texts)]
    rows.insert(5, (99, []))  # a passage with no tokens keeps every later id in place
    index = SparseIndex.build(iter(rows))
    reference = bm25s.BM25(k1=BM25_K1, b=BM25_B)  # as before streaming: a placeholder token
    reference.index([t or ["\u2205"] for _, t in rows], show_progress=False)
    kept = [cid for cid, _ in rows]
    for question in ("protein expression in cells", "臺灣的首都在哪裡"):
        ids, scores = reference.retrieve([sparse_tokens(question)], k=5, show_progress=False)
        expected = [(kept[int(r)], float(s)) for r, s in zip(ids[0], scores[0], strict=True)]
        got = index.search(question, 5)
        assert [c for c, _ in got] == [c for c, _ in expected]
        np.testing.assert_allclose([s for _, s in got], [s for _, s in expected], rtol=1e-6)


def test_an_index_of_no_passages_returns_nothing() -> None:
    assert SparseIndex.build(iter([])).search("bolt", 3) == []


def test_chunk_features_are_read_a_page_at_a_time_in_id_order(tmp_path: Path) -> None:
    db = MetadataDB(tmp_path / "meta.sqlite")
    doc = Document("d1", "Doc", "d1.txt", "/x/d1.txt", "h", "text", ("text",))
    db.put_document(doc, 0.0)
    texts = [f"Step {i}: tighten bolt {i}." for i in range(11)]
    chunks = [Chunk("d1", i, t, 0, len(t), chunk_id=40 - 3 * i) for i, t in enumerate(texts)]
    db.put_chunks(chunks, [f"h{i}" for i in range(11)])
    features = list(db.chunk_features(page=3))
    assert [cid for cid, _, _ in features] == sorted(40 - 3 * i for i in range(11))
    assert features[-1][2] == sparse_tokens(texts[0])
