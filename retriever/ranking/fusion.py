"""Fusing ranked lists from several retrievers."""

from __future__ import annotations

from collections.abc import Callable, Sequence

RRF_K = 60  # the constant from Cormack et al. (2009); damps the weight of the very top ranks


def reciprocal_rank_fusion(
    rankings: Sequence[Sequence[tuple[int, float]]], depth: int, k: int = RRF_K
) -> list[tuple[int, float]]:
    """Score each id by the sum of 1 / (k + rank) over the lists that contain it."""
    fused: dict[int, float] = {}
    for ranking in rankings:
        for rank, (item, _) in enumerate(ranking, start=1):
            fused[item] = fused.get(item, 0.0) + 1.0 / (k + rank)
    ordered = sorted(fused.items(), key=lambda pair: (-pair[1], pair[0]))
    return ordered[:depth]


NORMALISE_OVER = 100  # a list's score statistics come from its top this many


def zscore_fusion(
    rankings: Sequence[Sequence[tuple[int, float]]],
    depth: int,
    blind_to: Sequence[Callable[[int], bool]] | None = None,
    weights: Sequence[float] | None = None,
) -> list[tuple[int, float]]:
    """CombSUM of z-scores: each list's scores are standardised by the mean and spread of its
    own top results, so a retriever counts for more on a query where its top hits stand out.

    An item missing from a list takes that list's lowest standardised score, unless the list
    is blind to it (`blind_to[i](item)`, e.g. BM25 cannot see a passage in another script than
    the question's): then that list's vote is imputed from the lists that can see the item, so
    a passage is neither rewarded nor punished for what one retriever cannot read."""
    items = list(dict.fromkeys(item for ranking in rankings for item, _ in ranking))
    standardised = [_standardise(r) if r else {} for r in rankings]
    floors = [min(scores.values(), default=0.0) for scores in standardised]
    fused: dict[int, float] = {}
    for item in items:
        seen, seen_weight, blind_weight = 0.0, 0.0, 0.0
        for i, scores in enumerate(standardised):
            if not scores:
                continue
            weight = weights[i] if weights else 1.0
            if blind_to and blind_to[i](item):
                blind_weight += weight
                continue
            seen += weight * scores.get(item, floors[i])
            seen_weight += weight
        imputed = seen / seen_weight * blind_weight if seen_weight else 0.0
        fused[item] = seen + imputed
    ordered = sorted(fused.items(), key=lambda pair: (-pair[1], pair[0]))
    return ordered[:depth]


STANDOUT_OVER = 10  # the top hits a list's leader is compared with


def standout(ranking: Sequence[tuple[int, float]]) -> float:
    """How far a list's first hit stands above its next ones, in its own standard deviations:
    near 0 for a flat list (every hit alike), large for one confident match."""
    top = [score for _, score in ranking[:NORMALISE_OVER]]
    if len(top) < 3:
        return 0.0
    mean = sum(top) / len(top)
    spread = (sum((s - mean) ** 2 for s in top) / len(top)) ** 0.5
    following = top[1:STANDOUT_OVER]
    return (top[0] - sum(following) / len(following)) / spread if spread else 0.0


def _standardise(ranking: Sequence[tuple[int, float]]) -> dict[int, float]:
    top = [score for _, score in ranking[:NORMALISE_OVER]]
    mean = sum(top) / len(top)
    spread = (sum((s - mean) ** 2 for s in top) / len(top)) ** 0.5 or 1.0
    return {item: (score - mean) / spread for item, score in ranking}
