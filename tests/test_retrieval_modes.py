from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from ingest.chunking.document import chunk_document
from ingest.pipeline import ingest
from retriever.bm25.tokens import sparse_tokens
from retriever.ranking.fusion import zscore_fusion
from retriever.ranking.highlight import best_sentences
from retriever.ranking.retrieve import _visibility
from retriever.records import DocMeta, Document
from retriever.store.index_store import IndexStore
from retriever.store.language_space import language_direction, project_out
from retriever.text import sentence_spans
from service.app import create_app
from service.runtime import Runtime
from service.settings import Settings
from tests.fakes import FakeEncoder


def test_zscore_fusion_by_hand() -> None:
    dense = [(1, 0.9), (2, 0.8), (3, 0.7)]  # mean 0.8, spread 0.0816
    sparse = [(3, 12.0), (4, 6.0)]  # mean 9, spread 3
    fused = dict(zscore_fusion([dense, sparse], depth=10))
    z = 0.1 / np.std([0.9, 0.8, 0.7])
    assert fused[1] == pytest.approx(z + -1.0)  # missing from sparse: its floor, -1
    assert fused[3] == pytest.approx(-z + 1.0)
    assert fused[4] == pytest.approx(-z + -1.0)  # missing from dense: its floor, -z
    assert [item for item, _ in zscore_fusion([dense, sparse], depth=2)] == [1, 3]


def test_a_list_blind_to_an_item_takes_the_vote_of_the_lists_that_see_it() -> None:
    dense = [(1, 0.9), (2, 0.8), (3, 0.7)]
    sparse = [(2, 5.0), (3, 1.0)]
    plain = dict(zscore_fusion([dense, sparse], 10))
    blind = dict(zscore_fusion([dense, sparse], 10, [lambda i: False, lambda i: i == 1]))
    dense_z = (0.9 - 0.8) / (0.02 / 3) ** 0.5
    assert plain[1] == pytest.approx(dense_z - 1.0)  # missing from BM25: its floor, -1
    assert blind[1] == pytest.approx(2 * dense_z)  # BM25 cannot read it: dense votes twice
    assert blind[2] == plain[2]


def test_language_direction_needs_both_languages() -> None:
    rng = np.random.default_rng(0)
    zh = rng.normal(size=(10, 8)) + np.array([3, 0, 0, 0, 0, 0, 0, 0])
    en = rng.normal(size=(10, 8)) - np.array([3, 0, 0, 0, 0, 0, 0, 0])
    vectors = np.vstack([zh, en]).astype(np.float32)
    assert language_direction(vectors, ["zh"] * 20) is None
    assert language_direction(vectors, ["zh"] * 18 + ["en"] * 2) is None
    direction = language_direction(vectors, ["zh"] * 10 + ["en"] * 10)
    assert direction is not None and abs(direction[0]) > 0.9
    projected = project_out(vectors, direction)
    assert np.allclose(projected @ direction, 0, atol=1e-5)
    assert np.allclose(np.linalg.norm(projected, axis=1), 1, atol=1e-5)


class ReverseReranker:
    """Scores passages by reverse text length: an order no retriever would produce."""

    def score(self, question: str, texts: Sequence[str]) -> list[float]:
        return [-float(len(t)) for t in texts]


@pytest.mark.parametrize(
    ("mode", "stages"),
    [
        ("dense", ["dense"]),
        ("bm25", ["bm25"]),
        ("hybrid", ["dense", "bm25", "fusion:zscore"]),
    ],
)
def test_modes_say_which_stages_ran(client: TestClient, mode: str, stages: list[str]) -> None:
    body = client.post("/v1/query", json={"question": "main disconnect padlock", "mode": mode})
    assert body.status_code == 200, body.text
    assert (body.json()["mode"], body.json()["stages"]) == (mode, stages)
    top = body.json()["passages"][0]
    assert top["citation"]["source"] == "sop/SOP-MT-001_lockout-tagout.md"


def test_hybrid_is_the_default(client: TestClient) -> None:
    assert client.post("/v1/query", json={"question": "torque"}).json()["mode"] == "hybrid"


def test_rerank_without_a_reranker_is_a_422(client: TestClient) -> None:
    response = client.post("/v1/query", json={"question": "torque", "mode": "hybrid+rerank"})
    assert response.status_code == 422
    assert "SHIFU_RERANKER" in response.json()["detail"]


def test_rerank_stage_reorders_the_fused_pool(client: TestClient) -> None:
    runtime: Runtime = client.app.state.runtime  # type: ignore[attr-defined]
    runtime._reranker = ReverseReranker()
    body = client.post(
        "/v1/query", json={"question": "lockout", "mode": "hybrid+rerank", "k": 4}
    ).json()
    assert body["stages"] == ["dense", "bm25", "fusion:zscore", "rerank"]
    lengths = [len(p["text"]) for p in body["passages"]]
    assert lengths == sorted(lengths)


def test_highlight_marks_the_sentence_with_the_question_words(client: TestClient) -> None:
    body = client.post("/v1/query", json={"question": "bleed the hydraulic accumulator"}).json()
    top = body["passages"][0]
    start, end = top["highlight"]["start"], top["highlight"]["end"]
    assert "accumulator" in top["text"][start:end]
    assert end - start < len(top["text"])


def test_near_duplicate_passages_are_collapsed(tmp_path: Path, corpus_copy: Path) -> None:
    original = corpus_copy / "sop" / "SOP-MT-001_lockout-tagout.md"
    (corpus_copy / "copy-of-mt-001.md").write_text(original.read_text())
    encoder = FakeEncoder()
    ingest([corpus_copy], IndexStore(tmp_path / "home"), encoder)
    app = create_app(
        Settings(home=tmp_path / "home", auth=False), encoder_factory=lambda _: encoder
    )
    body = TestClient(app).post("/v1/query", json={"question": "padlock danger tag", "k": 10})
    texts = [" ".join(p["text"].split()) for p in body.json()["passages"]]
    assert len(texts) == len(set(texts))


def test_bm25_follows_incremental_ingest(
    client: TestClient, tmp_path: Path, corpus_copy: Path
) -> None:
    (corpus_copy / "new.md").write_text("# Coolant\nchange the quenchoil filter monthly\n")
    ingest([corpus_copy], IndexStore(tmp_path / "home"), FakeEncoder())
    body = client.post("/v1/query", json={"question": "quenchoil", "mode": "bm25"}).json()
    assert body["passages"][0]["citation"]["source"] == "new.md"
    (corpus_copy / "new.md").unlink()
    ingest([corpus_copy], IndexStore(tmp_path / "home"), FakeEncoder(), prune=True)
    assert (
        client.post("/v1/query", json={"question": "quenchoil", "mode": "bm25"}).json()["passages"]
        == []
    )


def test_highlight_in_another_script_asks_the_embedder() -> None:
    encoder = FakeEncoder()
    text = "先確認模面。禁止提高鎖模力。"
    question_vector = encoder.encode_queries(["never raise the clamp force"])[0]
    spans = best_sentences([text, "nothing shared here."], "clamp force", question_vector, encoder)
    assert spans[0] is not None and text[spans[0][0] : spans[0][1]] in {
        "先確認模面。",
        "禁止提高鎖模力。",
    }
    assert spans[1] is None  # same script, no shared word: no sentence stands out
    assert encoder.embedded == ["先確認模面。", "禁止提高鎖模力。"]


def test_bm25_counts_for_less_when_the_dense_answers_are_in_the_other_script() -> None:
    scripts = {1: "zh", 2: "en", 3: "en", 4: "zh"}
    dense = [(2, 0.9), (3, 0.8), (1, 0.7), (4, 0.6)]
    assert _visibility(scripts, "zh", dense) == 0.5
    assert _visibility(scripts, "en", dense[:2]) == 1.0


def test_sentences_end_at_punctuation_and_lines_not_at_step_numbers() -> None:
    text = "## 4. 調機步驟\n\n1. 確認毛邊位置。拍照記錄。\n2. Check the mold. Clean it!"
    pieces = [text[s:e].strip() for s, e in sentence_spans(text)]
    assert pieces == [
        "## 4. 調機步驟",
        "1. 確認毛邊位置。",
        "拍照記錄。",
        "2. Check the mold.",
        "Clean it!",
    ]


def test_sparse_tokens_keep_codes_and_fold_scripts() -> None:
    tokens = sparse_tokens("Error E-203 on the TV's M6x1.0 bolt: 電動起子")
    assert {"e-203", "e203", "203", "m6x1.0", "tv", "error", "bolt"} <= set(tokens)
    assert "s" not in tokens and "the" not in tokens
    assert {"电", "动", "电动", "起子"} <= set(tokens)  # folded to one script
    assert set(sparse_tokens("电动起子")) <= set(tokens)


def test_highlight_prefers_a_body_sentence_to_the_heading() -> None:
    text = "## 4. 調機步驟\n1. 確認毛邊位置。\n2. 降低射出壓力。"
    (span,) = best_sentences([text], "調機步驟 毛邊", None, None)
    assert span is not None and text[span[0] : span[1]] == "1. 確認毛邊位置。"


def test_sentence_vectors_are_cached_and_bounded() -> None:
    from retriever.models.sentence_cache import CachingEncoder

    inner = FakeEncoder()
    cached = CachingEncoder(inner, capacity=3)
    first = cached.encode_sentences(["a b", "c d", "a b"])
    assert inner.embedded == ["a b", "c d"]  # each new sentence once
    again = cached.encode_sentences(["c d", "a b"])
    assert inner.embedded == ["a b", "c d"] and np.allclose(again, first[[1, 0]])
    cached.encode_sentences(["e", "f", "g"])  # evicts the least recently used
    cached.encode_sentences(["a b"])
    assert inner.embedded[-1] == "a b" and len(inner.embedded) == 6
    assert cached.encode_passages(["x"]).shape == (1, inner.dim)  # passages pass through


def test_default_chunks_give_a_question_the_paragraph_it_is_about() -> None:
    """A 256-token chunk held this whole section: its vector was the average of four topics
    and the passage shown was mostly about the other three (measured: 128 is better on every
    eval set, see ingest.chunking)."""
    topics = ["padlock hasp lockout tag", "coolant nozzle pump filter", "spindle bearing grease",
              "conveyor belt tension roller"]  # fmt: skip
    text = "\n\n".join(" ".join([words] * 12) for words in topics)  # ~50 tokens a paragraph
    doc = Document("k", "Line 2", "x.txt", "/x.txt", "h", "text", (text,), DocMeta())
    encoder = FakeEncoder()
    chunks = chunk_document(doc, encoder.count_tokens, Runtime(Settings()).chunking)
    vectors = encoder.encode_passages([c.indexed_text for c in chunks])
    best = chunks[int(np.argmax(vectors @ encoder.encode_queries(["spindle bearing"])[0]))]
    assert "spindle" in best.text
    assert sum(topic.split()[0] in best.text for topic in topics) <= 2
