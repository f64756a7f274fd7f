"""Presenting evaluation results: a Markdown comparison table, JSON, a per-query TSV, a chart."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from retriever.lazy import require
from service.evaluation import EvalResult


def markdown_table(result: EvalResult) -> str:
    names = result.metric_names
    lines = [
        f"### {result.dataset}: {result.queries} queries, {result.chunks} chunks",
        "",
        f"index ready in {result.index_seconds:.1f} s (built once per corpus, model and "
        "chunking; cached after); seconds below: query encoding and ranking per mode",
        "",
        "| mode | " + " | ".join(names) + " | seconds |",
        "|---" * (len(names) + 2) + "|",
    ]
    for run in result.runs:
        cells = " | ".join(f"{run.metrics[n]:.3f}" for n in names)
        lines.append(f"| {run.mode} | {cells} | {run.seconds:.1f} |")
    for kind in ("language", "type", "kind"):
        for metric in (names[0], "Success@5"):
            lines += _breakdown(result, kind, headline=metric)
    return "\n".join(lines) + "\n"


def _breakdown(result: EvalResult, kind: str, headline: str) -> list[str]:
    groups = sorted({g for run in result.runs for g in _groups(run, kind)})
    if not groups:
        return []
    counts = {g: int(_groups(result.runs[0], kind).get(g, {}).get("queries", 0)) for g in groups}
    header = " | ".join(f"{g} ({counts[g]})" for g in groups)
    lines = ["", f"{headline} by query {kind}:", "", f"| mode | {header} |",
             "|---" * (len(groups) + 1) + "|"]  # fmt: skip
    for run in result.runs:
        cells = " | ".join(
            f"{_groups(run, kind).get(g, {}).get(headline, 0.0):.3f}" for g in groups
        )
        lines.append(f"| {run.mode} | {cells} |")
    return lines


def _groups(run: object, kind: str) -> dict[str, dict[str, float]]:
    groups: dict[str, dict[str, float]] = getattr(run, f"by_{kind}")
    return groups


def write_report(result: EvalResult, folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = [folder / "results.json", folder / "results.md", folder / "per_query.tsv"]
    written[0].write_text(json.dumps(result.to_dict(), ensure_ascii=False, indent=2) + "\n")
    written[1].write_text(markdown_table(result))
    written[2].write_text(_per_query_tsv(result))
    written.append(_chart(result, folder / "metrics.png"))
    return written


def _per_query_tsv(result: EvalResult) -> str:
    rows = ["mode\tquery_id\tlanguage\ttype\tfirst_relevant_rank\ttop_ids"]
    for run in result.runs:
        for o in run.outcomes:
            rank = "" if o.first_relevant is None else str(o.first_relevant)
            rows.append(
                f"{run.mode}\t{o.query_id}\t{o.language}\t{o.query_type or ''}\t{rank}\t"
                + ",".join(o.top_ids)
            )
    return "\n".join(rows) + "\n"


def _chart(result: EvalResult, path: Path) -> Path:
    require("matplotlib", "matplotlib").use("Agg")  # no display on servers
    plt = require("matplotlib.pyplot", "matplotlib")

    names = result.metric_names
    width = 0.8 / max(len(result.runs), 1)
    figure, axes = plt.subplots(figsize=(1.6 * len(names) + 2, 4))
    for i, run in enumerate(result.runs):
        positions = np.arange(len(names)) + i * width
        axes.bar(positions, [run.metrics[n] for n in names], width, label=run.mode)
    axes.set_xticks(np.arange(len(names)) + width * (len(result.runs) - 1) / 2, names)
    axes.set_ylim(0, 1)
    axes.set_title(f"{result.dataset} ({result.queries} queries)")
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


def parse_thresholds(specs: list[str], names: tuple[str, ...]) -> dict[str, float]:
    thresholds: dict[str, float] = {}
    for spec in specs:
        metric, _, value = spec.partition("=")
        if metric not in names:
            raise ValueError(f"--fail-under {spec!r}: unknown metric; use one of {list(names)}")
        try:
            thresholds[metric] = float(value)
        except ValueError as exc:
            raise ValueError(f"--fail-under {spec!r}: expected METRIC=NUMBER") from exc
    return thresholds


def failures(result: EvalResult, thresholds: dict[str, float]) -> list[str]:
    return [
        f"{run.mode}: {metric} = {run.metrics[metric]:.4f} < {minimum}"
        for run in result.runs
        for metric, minimum in thresholds.items()
        if run.metrics[metric] < minimum
    ]
