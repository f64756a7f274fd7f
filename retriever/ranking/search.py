"""Question -> ranked, cited passages over one consistent snapshot: the checks of a request,
the shared ranking (retrieve.py), near-duplicates collapsed, the best sentence highlighted and
the citation narrowed to its step. The modes are modes.py's."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from retriever.bm25.translation import Expansion, expansion_tokens
from retriever.filters import FilterError, Filters, check_filters
from retriever.models.encoder import Encoder
from retriever.models.reranker import Reranker
from retriever.ranking.across import across_vectors
from retriever.ranking.highlight import best_sentences
from retriever.ranking.modes import DEFAULT_MODE, Mode, SearchError, check_mode, needs_vectors
from retriever.ranking.retrieve import CANDIDATES, rank_many, translate_many, translates
from retriever.records import ChunkRanking, Citation, Passage, step_at
from retriever.store.snapshot import Snapshot
from retriever.text import is_text

NEAR_DUPLICATE = 0.9  # token-set Jaccard above which a lower-ranked passage adds nothing


@dataclass(frozen=True)
class SearchResult:
    passages: list[Passage]
    mode: Mode
    stages: list[str]
    expansions: list[Expansion] = field(default_factory=list)  # the question's translated words


def search(
    snapshot: Snapshot,
    encoder: Encoder,
    question: str,
    k: int,
    mode: str = DEFAULT_MODE,
    filters: Filters | None = None,
    reranker: Reranker | None = None,
    include_superseded: bool = False,
    groups: Sequence[str] | None = None,
) -> SearchResult:
    """`groups` are the caller's access groups (None: sees every document); documents outside
    them are excluded before any retriever ranks, scores or highlights anything."""
    checked = check_mode(mode, reranker is not None)
    _check_filters(filters)
    _check_text([question, *(v for values in (filters or {}).values() for v in values)])
    allowed = snapshot.select(filters, include_superseded, groups)
    found = translate_many(snapshot, [question], allowed) if translates(checked) else [None]
    vector, across = None, None
    if needs_vectors(checked):  # BM25 alone needs no model: it is not even loaded
        snapshot.manifest.check_model(encoder.name, encoder.dim)
        vector, across = across_vectors(encoder, [question], found)
    rankings, stages = rank_many(snapshot, [question], vector, checked, CANDIDATES, allowed,
                                 reranker=reranker, found=found, across=across)  # fmt: skip
    passages = _top_distinct(snapshot, rankings[0], k)
    query_vector = None if vector is None else vector[0]
    expanded = found[0] or []
    highlighted = _highlighted(passages, question, query_vector, encoder,
                               lambda: expansion_tokens(expanded))  # fmt: skip
    return SearchResult(highlighted, checked, stages, expanded)


def translated(snapshot: Snapshot, question: str) -> list[str]:
    """The question's translation as this index's BM25 tokens (none in one language)."""
    return expansion_tokens(translate_many(snapshot, [question])[0] or [])


def _check_filters(filters: Filters | None) -> None:
    try:
        check_filters(filters)
    except FilterError as exc:  # a request asked wrongly, like an unknown mode
        raise SearchError(str(exc)) from exc


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
                                  doc.superseded, doc.kind)  # fmt: skip
        passages.append(Passage(chunk_id, chunk.text, score, citation, tokens=row.tokens,
                                steps=chunk.steps))  # fmt: skip
    return passages


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
    passages: list[Passage],
    question: str,
    query_vector: np.ndarray | None,
    encoder: Encoder,
    translate: Callable[[], Sequence[str]],
) -> list[Passage]:
    spans = best_sentences([p.text for p in passages], question, query_vector, encoder,
                           translate)  # fmt: skip
    return [_cited_at(replace(p, highlight=span)) for p, span in zip(passages, spans, strict=True)]


def _cited_at(passage: Passage) -> Passage:
    """A passage over several steps is cited by the step its best sentence lies in."""
    if not passage.steps or passage.highlight is None:
        return passage
    step = step_at(passage.steps, passage.highlight[0])
    return replace(passage, citation=passage.citation.with_step(step))
