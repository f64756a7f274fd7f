"""Question -> ranked, cited passages over one consistent snapshot.

Modes: `dense` (embedder over FAISS), `bm25` (bm25s), `hybrid` (z-score fusion of the two,
the default), `hybrid-rrf` (reciprocal rank fusion instead, for comparison), `hybrid+rerank`
(hybrid, then a cross-encoder over the fused top, when one is configured). Filters select the
allowed chunks before any retriever ranks them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from retriever.encoder import Encoder
from retriever.fusion import reciprocal_rank_fusion, zscore_fusion
from retriever.highlight import best_sentences
from retriever.metadata import FILTERABLE_FIELDS
from retriever.records import Citation, Passage, step_at
from retriever.reranker import Reranker
from retriever.store import Snapshot
from retriever.text import is_text, script_of
from retriever.translation import Lexicon, default_lexicon
from retriever.vector_backend import Selection

MODES = ("dense", "bm25", "hybrid", "hybrid-rrf", "hybrid+rerank")
CANDIDATES = 100  # per retriever before fusion; also the reranker's pool
VISIBILITY_DEPTH = 10  # the dense hits that judge how much BM25 can see
NEAR_DUPLICATE = 0.9  # token-set Jaccard above which a lower-ranked passage adds nothing
# a translated BM25 query is noisier than a native one; measured on corpus/eval (0.5 and 1
# both beat the blind BM25; 0.5 more so)
TRANSLATED_BM25_WEIGHT = 0.5

ChunkRanking = list[tuple[int, float]]


class SearchError(ValueError):
    """The request cannot be served as asked (unknown mode, no reranker configured)."""


@dataclass(frozen=True)
class SearchResult:
    passages: list[Passage]
    mode: str
    stages: list[str]


def rank_many(
    snapshot: Snapshot,
    questions: Sequence[str],
    vectors: np.ndarray | None,
    mode: str,
    depth: int,
    allowed: Selection | None = None,
    lexicon: Lexicon | None = None,
) -> tuple[list[ChunkRanking], list[str]]:
    """Chunk rankings for many questions at once (evaluation batches; search passes one).
    `lexicon` translates questions for BM25 in a bilingual index (default: CC-CEDICT when
    installed); a one-language index never translates."""
    pool = max(depth, CANDIDATES)
    if mode == "bm25":
        return snapshot.sparse_many(questions, depth, allowed), ["bm25"]
    if vectors is None:
        raise SearchError(f"mode {mode!r} needs query vectors")
    dense = snapshot.dense_many(vectors, pool if mode != "dense" else depth, allowed)
    if mode == "dense":
        return dense, ["dense"]
    lexicon = _lexicon_for(snapshot, lexicon) if mode == "hybrid" else None
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


def _lexicon_for(snapshot: Snapshot, lexicon: Lexicon | None) -> Lexicon | None:
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


def search(
    snapshot: Snapshot,
    encoder: Encoder,
    question: str,
    k: int,
    mode: str = "hybrid",
    filters: Mapping[str, Sequence[str]] | None = None,
    reranker: Reranker | None = None,
    include_superseded: bool = False,
    groups: Sequence[str] | None = None,
) -> SearchResult:
    """`groups` are the caller's access groups (None: sees every document); documents outside
    them are excluded before any retriever ranks, scores or highlights anything."""
    if mode not in MODES:
        raise SearchError(f"unknown mode {mode!r}; choose from {list(MODES)}")
    if mode == "hybrid+rerank" and reranker is None:
        raise SearchError("mode 'hybrid+rerank' needs a reranker: set SHIFU_RERANKER to a folder")
    _check_filters(filters)
    _check_text([question, *(v for values in (filters or {}).values() for v in values)])
    snapshot.manifest.check_model(encoder.name, encoder.dim)
    vector = None if mode == "bm25" else encoder.encode_queries([question])
    base = "hybrid" if mode == "hybrid+rerank" else mode
    allowed = snapshot.select(filters, include_superseded, groups)
    rankings, stages = rank_many(snapshot, [question], vector, base, CANDIDATES, allowed)
    if reranker is not None and mode == "hybrid+rerank":
        pool = _rerank(reranker, question, _passages(snapshot, rankings[0]))
        stages.append("rerank")
        passages = _without_near_duplicates(pool, k)
    else:
        passages = _top_distinct(snapshot, rankings[0], k)
    query_vector = None if vector is None else vector[0]
    return SearchResult(_highlighted(passages, question, query_vector, encoder), mode, stages)


def _check_filters(filters: Mapping[str, Sequence[str]] | None) -> None:
    unknown = sorted(set(filters or {}) - set(FILTERABLE_FIELDS))
    if unknown:
        raise SearchError(f"cannot filter on {unknown}; filter on any of {list(FILTERABLE_FIELDS)}")
    empty = sorted(name for name, values in (filters or {}).items() if not values)
    if empty:
        raise SearchError(f"filter {empty} has no value")


def _check_text(texts: Sequence[str]) -> None:
    if not all(is_text(text) for text in texts):
        raise SearchError("the question or a filter is not valid Unicode text")


def _top_distinct(snapshot: Snapshot, ranking: ChunkRanking, k: int) -> list[Passage]:
    """The first k passages that are not near-duplicates of a better one; rows are read a few
    at a time, since most questions need little more than k."""
    seen = 0
    kept: list[Passage] = []
    while len(kept) < k and seen < len(ranking):
        batch = ranking[seen : seen + 2 * k]
        seen += len(batch)
        kept = _without_near_duplicates(_passages(snapshot, batch), k, kept)
    return kept


def _passages(snapshot: Snapshot, ranking: ChunkRanking) -> list[Passage]:
    rows = snapshot.chunk_rows([chunk_id for chunk_id, _ in ranking])
    passages = []
    for chunk_id, score in ranking:
        row = rows.get(chunk_id)
        if row is None:  # the index and metadata of one generation agree; guard anyway
            continue
        doc, chunk = row.document, row.chunk
        citation = Citation.build(doc.doc_id, doc.title, doc.source, doc.meta, chunk,
                                  doc.superseded)  # fmt: skip
        passages.append(Passage(chunk_id, chunk.text, score, citation, tokens=row.tokens,
                                steps=chunk.steps))  # fmt: skip
    return passages


def _rerank(reranker: Reranker, question: str, passages: list[Passage]) -> list[Passage]:
    scores = reranker.score(question, [p.text for p in passages])
    rescored = [replace(p, score=float(s)) for p, s in zip(passages, scores, strict=True)]
    return sorted(rescored, key=lambda p: -p.score)


def _without_near_duplicates(
    passages: list[Passage], k: int, kept: Sequence[Passage] = ()
) -> list[Passage]:
    """`kept` extended, up to k, by the passages that repeat none kept before them."""
    kept = list(kept)
    for passage in passages:
        if len(kept) == k:
            break
        if not any(_repeats(passage, other) for other in kept):
            kept.append(passage)
    return kept


def _repeats(passage: Passage, better: Passage) -> bool:
    """A near-copy of a better passage adds nothing, unless it is the other side of a revision
    change that the reader asked to see."""
    if passage.citation.superseded != better.citation.superseded:
        return False
    smaller, larger = sorted((len(passage.tokens), len(better.tokens)))
    if smaller < NEAR_DUPLICATE * larger:  # Jaccard is at most smaller / larger
        return False
    return _jaccard(passage.tokens, better.tokens) >= NEAR_DUPLICATE


def _jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    if not a or not b:
        return 1.0 if a == b else 0.0
    return len(a & b) / len(a | b)


def _highlighted(
    passages: list[Passage], question: str, query_vector: np.ndarray | None, encoder: Encoder
) -> list[Passage]:
    spans = best_sentences([p.text for p in passages], question, query_vector, encoder)
    return [_cited_at(replace(p, highlight=span)) for p, span in zip(passages, spans, strict=True)]


def _cited_at(passage: Passage) -> Passage:
    """A passage over several steps is cited by the step its best sentence lies in."""
    if not passage.steps or passage.highlight is None:
        return passage
    step = step_at(passage.steps, passage.highlight[0])
    return replace(passage, citation=passage.citation.with_step(step))
