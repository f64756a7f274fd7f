"""Chunk rankings for questions, mode by mode: the one path that search and evaluation share,
so evaluation measures what production serves. Filters and access groups arrive as a
Selection, applied before any retriever ranks."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np

from retriever.bm25.translation import Expansion, Lexicon, default_lexicon
from retriever.models.reranker import Reranker
from retriever.ranking.across import merged, other_script
from retriever.ranking.fusion import reciprocal_rank_fusion, standout, zscore_fusion
from retriever.ranking.modes import Mode, SearchError, base_mode, reranks
from retriever.records import ChunkRanking
from retriever.store.backend import Selection
from retriever.store.snapshot import Snapshot
from retriever.text import script_of

CANDIDATES = 100  # per retriever before fusion; also the reranker's pool
VISIBILITY_DEPTH = 10  # the dense hits that judge how much BM25 can see
# a translated BM25 query is noisier than a native one, less so when the plant's glossary
# translated some of its words: measured on corpus/eval and tatoeba-zh-en (dictionary-only at
# 0.5 pulled tatoeba's hybrid below dense; 0.25 does not; a glossary match at 0.5 and 1 alike)
TRANSLATED_BM25_WEIGHT = 0.25
GLOSSARY_BM25_WEIGHT = 0.5
MAX_DEFERENCE = 1.5  # at most how much more a standing-out translated BM25 list can count


def rank_many(
    snapshot: Snapshot,
    questions: Sequence[str],
    vectors: np.ndarray | None,
    mode: Mode,
    depth: int,
    allowed: Selection | None = None,
    lexicon: Lexicon | None = None,
    reranker: Reranker | None = None,
    found: Sequence[list[Expansion] | None] | None = None,
    across: Sequence[np.ndarray | None] | None = None,
) -> tuple[list[ChunkRanking], list[str]]:
    """Chunk rankings for many questions at once (evaluation batches; search passes one), and
    the stages that ran. Hybrid translates a question when the index holds passages in the
    other script: `found` are its expansions for BM25 (`translate_many`; computed here with
    `lexicon`, default CC-CEDICT, under the glossary, when not given), `across` its vectors
    for the other script's passages (across.py; none: the plain vector alone)."""
    if found is None and translates(mode):
        found = translate_many(snapshot, questions, allowed, lexicon)
    translated = (found, across) if translates(mode) else (None, None)
    rankings, stages = _retrieved(snapshot, questions, vectors, base_mode(mode), depth, allowed,
                                  *translated)  # fmt: skip
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


def translates(mode: Mode) -> bool:
    """Only hybrid translates: dense and BM25 alone stay what they measure, the embedder and
    the words as asked; reciprocal rank fusion stays the untranslated baseline."""
    return base_mode(mode) == "hybrid"


def translate_many(
    snapshot: Snapshot,
    questions: Sequence[str],
    allowed: Selection | None = None,
    lexicon: Lexicon | None = None,
) -> list[list[Expansion] | None]:
    """Each question's expansions through the glossary the caller may read over `lexicon`
    (default CC-CEDICT); None for a question no passage in the other script could answer."""
    layered = snapshot.lexicon(allowed.groups if allowed else None,
                               lexicon if lexicon is not None else default_lexicon())  # fmt: skip
    held = snapshot.held()
    found: list[list[Expansion] | None] = []
    for question in questions:
        other = other_script(question)
        found.append(snapshot.expansions(question, layered) if layered and other in held
                     else None)  # fmt: skip
    return found


def _retrieved(
    snapshot: Snapshot,
    questions: Sequence[str],
    vectors: np.ndarray | None,
    mode: Mode,
    depth: int,
    allowed: Selection | None,
    found: Sequence[list[Expansion] | None] | None,
    across: Sequence[np.ndarray | None] | None = None,
) -> tuple[list[ChunkRanking], list[str]]:
    pool = max(depth, CANDIDATES)
    if mode == "bm25":
        return snapshot.sparse_many(questions, depth, allowed), ["bm25"]
    if vectors is None:
        raise SearchError(f"mode {mode!r} needs query vectors")
    dense = snapshot.dense_many(vectors, pool if mode != "dense" else depth, allowed)
    if mode == "dense":
        return dense, ["dense"]
    if across is not None and any(v is not None for v in across):
        dense = _with_across(snapshot, questions, dense, across, pool, allowed)
    sparse = snapshot.sparse_many(questions, pool, allowed, found)
    if mode == "hybrid-rrf":  # kept to compare against: measured below z-score fusion
        pairs = zip(dense, sparse, strict=True)
        return [reciprocal_rank_fusion([d, s], pool) for d, s in pairs], [
            "dense",
            "bm25",
            "fusion:rrf",
        ]
    scripts = snapshot.scripts()
    fused = []
    translated = found or [None] * len(questions)
    for question, d, s, f in zip(questions, dense, sparse, translated, strict=True):
        blind, weights = _zscore_votes(scripts, question, d, f)
        if f is not None:  # a flat dense list defers to a translated match that stands out
            weights[1] *= min(MAX_DEFERENCE, max(1.0, standout(s) / max(standout(d), 1e-6)))
        fused.append(zscore_fusion([d, s], pool, blind, weights))
    return fused, ["dense", "bm25", "fusion:zscore"]


def _with_across(
    snapshot: Snapshot,
    questions: Sequence[str],
    dense: list[ChunkRanking],
    across: Sequence[np.ndarray | None],
    pool: int,
    allowed: Selection | None,
) -> list[ChunkRanking]:
    """Each translated question's dense ranking with its other-script passages also judged by
    its translated vector (across.py)."""
    asked = [(i, v) for i, v in enumerate(across) if v is not None]
    found = snapshot.dense_many(np.vstack([v for _, v in asked]), pool, allowed)
    scripts = snapshot.scripts()
    merged_dense = list(dense)
    for (i, _), ranking in zip(asked, found, strict=True):
        merged_dense[i] = merged(dense[i], ranking, scripts, other_script(questions[i]), pool)
    return merged_dense


def _zscore_votes(
    scripts: Mapping[int, str], question: str, dense: ChunkRanking, found: list[Expansion] | None
) -> tuple[list[Callable[[int], bool]] | None, list[float]]:
    """What BM25 can see and how much it counts. A translated query (`found`, its expansions)
    reads both scripts: nothing is imputed, and it counts less, being noisier than a native
    one, unless the glossary translated it. A native query is blind to the other script and
    counts by the share of dense evidence it can see."""
    if found is not None:
        sure = any(e.source != "dictionary" for e in found)
        return None, [1.0, GLOSSARY_BM25_WEIGHT if sure else TRANSLATED_BM25_WEIGHT]
    script = script_of(question)
    return [_never, _outside(scripts, script)], [1.0, _visibility(scripts, script, dense)]


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
