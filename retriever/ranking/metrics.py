"""Retrieval metrics by ir-measures, with ir-measures' exact names; unanswered queries score 0."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from retriever.lazy import require


def metric_names(k: int = 10) -> tuple[str, ...]:
    return (f"nDCG@{k}", f"R@{k}", "R@100", f"RR@{k}", "Success@1", "Success@5")


def _ir_measures() -> Any:
    return require("ir_measures", "ir-measures")


def per_query(
    qrels: Mapping[str, Mapping[str, int]],
    rankings: Mapping[str, Sequence[str]],
    names: Sequence[str],
) -> dict[str, dict[str, float]]:
    """Metric values for every judged query; one missing from `rankings` scores 0 throughout."""
    ir = _ir_measures()
    measures = [ir.parse_measure(name) for name in names]
    qrel_rows = [ir.Qrel(q, d, g) for q, docs in qrels.items() for d, g in docs.items()]
    # scores strictly decreasing with rank: trec_eval re-sorts by score and breaks ties by id
    run_rows = [
        ir.ScoredDoc(q, d, float(len(ids) - rank))
        for q, ids in rankings.items() if q in qrels
        for rank, d in enumerate(ids)
    ]  # fmt: skip
    values = {q: dict.fromkeys(names, 0.0) for q in qrels}
    by_measure = {str(m): name for m, name in zip(measures, names, strict=True)}
    for metric in ir.iter_calc(measures, qrel_rows, run_rows):
        values[metric.query_id][by_measure[str(metric.measure)]] = float(metric.value)
    return values


def mean(values: Mapping[str, Mapping[str, float]], names: Sequence[str]) -> dict[str, float]:
    if not values:
        return dict.fromkeys(names, 0.0)
    return {name: sum(v[name] for v in values.values()) / len(values) for name in names}


def first_relevant_rank(relevant: Mapping[str, int], ranked: Sequence[str]) -> int | None:
    return next((rank for rank, d in enumerate(ranked, start=1) if relevant.get(d, 0) > 0), None)
