"""Chunk rankings for questions, mode by mode: the one path that search and evaluation share,
so evaluation measures what production serves. Filters and access groups arrive as a
Selection, applied before any retriever ranks."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np

from retriever.bm25.translation import Lexicon, default_lexicon
from retriever.models.reranker import Reranker
from retriever.ranking.fusion import reciprocal_rank_fusion, zscore_fusion
from retriever.ranking.modes import Mode, SearchError, base_mode, reranks
from retriever.records import ChunkRanking
from retriever.store.backend import Selection
from retriever.store.snapshot import Snapshot
from retriever.text import script_of

CANDIDATES = 100  # per retriever before fusion; also the reranker's pool
VISIBILITY_DEPTH = 10  # the dense hits that judge how much BM25 can see
# a translated BM25 query is noisier than a native one; measured on corpus/eval (0.5 and 1
# both beat the blind BM25; 0.5 more so)
TRANSLATED_BM25_WEIGHT = 0.5


def rank_many(
    snapshot: Snapshot,
    questions: Sequence[str],
    vectors: np.ndarray | None,
    mode: Mode,
    depth: int,
    allowed: Selection | None = None,
    lexicon: Lexicon | None = None,
    reranker: Reranker | None = None,
) -> tuple[list[ChunkRanking], list[str]]:
    """Chunk rankings for many questions at once (evaluation batches; search passes one), and
    the stages that ran. `lexicon` translates questions for BM25 in a bilingual index
    (default: CC-CEDICT when installed); a one-language index never translates."""
    rankings, stages = _retrieved(snapshot, questions, vectors, base_mode(mode), depth, allowed,
                                  lexicon)  # fmt: skip
    if not reranks(mode):
        return rankings, stages
    if reranker is None:
        raise SearchError(f"mode {mode!r} needs a reranker")
    pairs = zip(questions, rankings, strict=True)
    return [reranked(snapshot, reranker, q, r) for q, r in pairs], [*stages, "rerank"]


def reranked(
    snapshot: Snapshot, reranker: Reranker, question: str, ranking: ChunkRanking
) -> ChunkRanking:
    """The top CANDIDATES reordered by the cross-encoder's scores; the rest after them."""
    rows = snapshot.chunk_rows([chunk_id for chunk_id, _ in ranking[:CANDIDATES]])
    pool = [chunk_id for chunk_id, _ in ranking[:CANDIDATES] if chunk_id in rows]
    scores = reranker.score(question, [rows[chunk_id].chunk.text for chunk_id in pool])
    rescored = [(chunk_id, float(s)) for chunk_id, s in zip(pool, scores, strict=True)]
    return sorted(rescored, key=lambda pair: -pair[1]) + ranking[CANDIDATES:]


def _retrieved(
    snapshot: Snapshot,
    questions: Sequence[str],
    vectors: np.ndarray | None,
    mode: Mode,
    depth: int,
    allowed: Selection | None,
    lexicon: Lexicon | None,
) -> tuple[list[ChunkRanking], list[str]]:
    pool = max(depth, CANDIDATES)
    if mode == "bm25":
        return snapshot.sparse_many(questions, depth, allowed), ["bm25"]
    if vectors is None:
        raise SearchError(f"mode {mode!r} needs query vectors")
    dense = snapshot.dense_many(vectors, pool if mode != "dense" else depth, allowed)
    if mode == "dense":
        return dense, ["dense"]
    lexicon = lexicon_for(snapshot, lexicon) if mode == "hybrid" else None
    sparse = snapshot.sparse_many(questions, pool, allowed, lexicon)
    if mode == "hybrid-rrf":  # kept to compare against: measured below z-score fusion
        pairs = zip(dense, sparse, strict=True)
        return [reciprocal_rank_fusion([d, s], pool) for d, s in pairs], [
            "dense",
            "bm25",
            "fusion:rrf",
        ]
    scripts = snapshot.scripts()
    fused = []
    for question, d, s in zip(questions, dense, sparse, strict=True):
        blind, weights = _zscore_votes(scripts, question, d, translated=lexicon is not None)
        fused.append(zscore_fusion([d, s], pool, blind, weights))
    return fused, ["dense", "bm25", "fusion:zscore"]


def _zscore_votes(
    scripts: Mapping[int, str], question: str, dense: ChunkRanking, translated: bool
) -> tuple[list[Callable[[int], bool]] | None, list[float]]:
    """What BM25 can see and how much it counts. A translated query reads both scripts: nothing
    is imputed, and it counts less, being noisier than a native one. A native query is blind to
    the other script and counts by the share of dense evidence it can see."""
    if translated:
        return None, [1.0, TRANSLATED_BM25_WEIGHT]
    script = script_of(question)
    return [_never, _outside(scripts, script)], [1.0, _visibility(scripts, script, dense)]


def lexicon_for(snapshot: Snapshot, lexicon: Lexicon | None = None) -> Lexicon | None:
    """The dictionary that translates questions in a bilingual index; None in one language."""
    if not snapshot.bilingual():
        return None
    return lexicon if lexicon is not None else default_lexicon()


def _visibility(scripts: Mapping[int, str], script: str, dense: ChunkRanking) -> float:
    """How much of the dense evidence BM25 can see: the share of the top dense hits written in
    the question's script. 1 in a one-language index; lower when the answers the embedder finds
    are in the other language, where BM25's matches can only be incidental."""
    top = dense[:VISIBILITY_DEPTH]
    if not top:
        return 1.0
    return sum(scripts.get(chunk_id) == script for chunk_id, _ in top) / len(top)


def _never(item: int) -> bool:
    return False


def _outside(scripts: Mapping[int, str], script: str) -> Callable[[int], bool]:
    """BM25 cannot match a Chinese question to an English passage or the reverse."""
    return lambda chunk_id: scripts.get(chunk_id, script) != script
