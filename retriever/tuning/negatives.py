"""Hard negatives: for each pair, the passage that BM25 and the current model together rank
highest for its query while not being the pair's passage, nor one under the same title and
section (an article's other paragraphs, a section's other steps: they may answer it too)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from retriever.models.encoder import Encoder
from retriever.ranking.fusion import reciprocal_rank_fusion
from retriever.store.rows import ChunkRow
from retriever.store.snapshot import GenerationSnapshot
from retriever.tuning.pairs import Pair, group_of

CANDIDATES = 10  # hits of each retriever a negative is chosen from
BATCH = 64


def with_negatives(
    pairs: Sequence[Pair], snapshot: GenerationSnapshot, encoder: Encoder | None
) -> list[Pair]:
    """`pairs` with a hard negative where one is found and none is set (`encoder` None: BM25
    alone, as a dry run does)."""
    wanted = [i for i, p in enumerate(pairs) if p.chunk_id is not None and p.negative is None]
    out = list(pairs)
    selection = snapshot.select(None)
    for start in range(0, len(wanted), BATCH):
        rows = wanted[start : start + BATCH]
        queries = [pairs[i].query for i in rows]
        lists = [snapshot.sparse_many(queries, CANDIDATES, selection)]
        if encoder is not None:
            lists.append(snapshot.dense_many(encoder.encode_queries(queries), CANDIDATES,
                                             selection))  # fmt: skip
        for n, i in enumerate(rows):
            fused = reciprocal_rank_fusion([ranking[n] for ranking in lists], 2 * CANDIDATES)
            negative = _first_other(pairs[i], [cid for cid, _ in fused], snapshot)
            if negative is not None:
                out[i] = replace(pairs[i], negative=negative)
    return out


def _first_other(pair: Pair, ranked: list[int], snapshot: GenerationSnapshot) -> str | None:
    found = snapshot.chunk_rows([*ranked, pair.chunk_id or 0])
    own = found.get(pair.chunk_id or 0)
    for chunk_id in ranked:
        row = found.get(chunk_id)
        if row is not None and own is not None and not _siblings(row, own):
            return row.chunk.text
    return None


def _siblings(row: ChunkRow, own: ChunkRow) -> bool:
    same_place = group_of(row) == group_of(own)
    return row.chunk.chunk_id == own.chunk.chunk_id or same_place or row.text_hash == own.text_hash
