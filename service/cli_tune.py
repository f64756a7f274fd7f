"""`shifu tune`: adapt the embedder to the plant's documents and feedback, adopted only when the
plant's eval set improves; `--dry-run` shows the pairs, `--rollback` returns to the previous
model. The work is service/tuning.py's."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

import typer

from retriever.ranking.modes import DEFAULT_MODE
from retriever.tuning.pairs import Pair, counts
from retriever.tuning.train import TuneConfig
from service import cli_common
from service.cli_common import Bar, HomeOption, JsonOption, make_settings, progress_bars
from service.cli_errors import err, fail_cleanly
from service.runtime import Runtime
from service.tuning import (
    GATE_METRIC,
    Gate,
    TuneError,
    TuneOutcome,
    rollback,
    sample,
    training_pairs,
    tune,
)  # fmt: skip

DEFAULT_EVAL = "eval"  # HOME/eval: the plant's eval set, when --eval is not given
DEFAULTS = TuneConfig()


EvalOption = Annotated[
    Path | None,
    typer.Option(
        "--eval",
        help="the plant's eval set (BEIR layout, as corpus/eval or what "
        "`shifu feedback export` writes; default HOME/eval)",
    ),
]
BudgetOption = Annotated[float, typer.Option(min=1.0, help="stop training after SECONDS")]
DryRunOption = Annotated[bool, typer.Option("--dry-run", help="print the pairs, train nothing")]
RollbackOption = Annotated[bool, typer.Option("--rollback", help="return to the previous model")]
SeedOption = Annotated[int, typer.Option(help="fixes the pairs, batches and weights")]
GainOption = Annotated[float, typer.Option(help=f"{GATE_METRIC} gain the gate asks for")]


def tune_cmd(
    home: HomeOption = None,
    eval_set: EvalOption = None,
    steps: Annotated[int, typer.Option(min=1, help="training steps")] = DEFAULTS.steps,
    batch_size: Annotated[int, typer.Option(min=2, max=256)] = DEFAULTS.batch_size,
    learning_rate: Annotated[float, typer.Option(min=0.0)] = DEFAULTS.learning_rate,
    seed: SeedOption = DEFAULTS.seed,
    budget: BudgetOption = DEFAULTS.budget_seconds,
    mode: Annotated[str, typer.Option(help="the mode the gate measures")] = DEFAULT_MODE,
    min_gain: GainOption = 0.0,
    report: Annotated[Path | None, typer.Option("--report", help="write a report here")] = None,
    dry_run: DryRunOption = False,
    rollback_: RollbackOption = False,
    as_json: JsonOption = False,
) -> None:
    """Fine-tune a copy of the embedder on pairs from the index (headings, SOP steps, interview
    exchanges, glossary terms, inverse cloze, feedback); adopt it only if the eval set improves."""
    runtime = cli_common.make_runtime(make_settings(home))
    config = TuneConfig(steps, batch_size, learning_rate, seed, budget)
    with fail_cleanly():
        if rollback_:
            _rollback(runtime)
            return
        chosen = _eval_set(runtime, eval_set, required=not dry_run)
        if dry_run or chosen is None:
            _dry_run(runtime, chosen, seed, as_json)
            return
        with progress_bars() as progress:
            outcome = tune(runtime, chosen, config, lambda label: Bar(progress, label), mode,
                           min_gain)  # fmt: skip
    body = outcome_body(outcome)
    typer.echo(json.dumps(body, ensure_ascii=False) if as_json else _text(outcome))
    if report is not None:
        report.mkdir(parents=True, exist_ok=True)
        (report / "tune.json").write_text(json.dumps(body, ensure_ascii=False, indent=2))
        err.print(f"wrote {report / 'tune.json'}", highlight=False)


def _eval_set(runtime: Runtime, given: Path | None, required: bool) -> Path | None:
    chosen = given or runtime.settings.home / DEFAULT_EVAL
    if (chosen / "queries.jsonl").is_file():
        return chosen
    if given is not None or required:
        raise TuneError(
            f"no eval set at {chosen}: the gate needs one to decide whether the tuned model is "
            "better (--eval DIR in BEIR layout, as corpus/eval, or the set `shifu feedback "
            "export DIR` writes)"
        )
    return None


def _rollback(runtime: Runtime) -> None:
    with progress_bars() as progress:
        name = rollback(runtime, lambda label: Bar(progress, label))
    typer.echo(f"rolled back: the index is embedded by {name} again")


def _dry_run(runtime: Runtime, eval_set: Path | None, seed: int, as_json: bool) -> None:
    """Pairs with BM25 negatives only: a dry run loads no model."""
    pairs = training_pairs(runtime, eval_set, seed, None)
    shown = sample(pairs, seed)
    by_source = counts(pairs)
    if as_json:
        typer.echo(
            json.dumps(
                {"pairs": by_source, "total": len(pairs), "sample": [asdict(p) for p in shown]},
                ensure_ascii=False,
            )
        )
        return
    typer.echo(f"{len(pairs)} training pairs: {_counted(by_source)}")
    if eval_set is None:
        err.print("no eval set given: `shifu tune` itself will need one (--eval DIR)")
    for pair in shown:
        typer.echo(_pair_line(pair))


def _pair_line(pair: Pair) -> str:
    def short(text: str | None) -> str:
        return " ".join((text or "").split())[:70]

    line = f"[{pair.source}] {short(pair.query)}  →  {short(pair.passage)}"
    return line + (f"  (not: {short(pair.negative)})" if pair.negative else "")


def outcome_body(outcome: TuneOutcome) -> dict[str, Any]:
    gate = outcome.gate
    trained = outcome.trained
    return {
        "pairs": outcome.pairs, "sample": [asdict(p) for p in outcome.sample],
        "training": None if trained is None else {
            **asdict(trained), "pairs_per_second": round(trained.pairs_per_second, 2)},
        "gate": None if gate is None else {
            "mode": gate.mode, "metric": GATE_METRIC, "min_gain": gate.min_gain,
            "before": gate.before.to_dict(), "after": gate.after.to_dict(),
            "adopted": gate.adopted},
        "model": outcome.model, "reembed_seconds": round(outcome.reembed_seconds, 1),
        "notes": outcome.notes,
    }  # fmt: skip


def _text(outcome: TuneOutcome) -> str:
    lines = [f"training pairs: {_counted(outcome.pairs)}"]
    if outcome.trained is not None:
        t = outcome.trained
        lines.append(f"trained {t.steps} steps ({t.pairs_seen} pairs) in {t.seconds:.0f} s, "
                     f"{t.pairs_per_second:.1f} pairs/s; loss {t.first_loss:.3f} → "
                     f"{t.last_loss:.3f}" + (" (time budget reached)" if t.stopped_by_budget
                                             else ""))  # fmt: skip
    gate = outcome.gate
    if gate is not None:
        before, after = gate.score(gate.before), gate.score(gate.after)
        lines.append(
            f"{gate.before.dataset} {gate.mode} {GATE_METRIC}: {before:.3f} → "
            f"{after:.3f}: " + ("adopted" if gate.adopted else "kept the current model")
        )
        lines += _by_type(gate)
    if gate is not None and gate.adopted:
        seconds = outcome.reembed_seconds
        lines.append(f"re-embedded the index with {outcome.model} in {seconds:.1f} s")
    return "\n".join(lines + outcome.notes)


def _counted(by_source: dict[str, int]) -> str:
    return ", ".join(f"{n} {source}" for source, n in by_source.items() if n)


def _by_type(gate: Gate) -> list[str]:
    before, after = gate.before.runs[0].by_type, gate.after.runs[0].by_type
    return [f"  {name}: {GATE_METRIC} {before[name][GATE_METRIC]:.3f} → "
            f"{after[name][GATE_METRIC]:.3f}, Success@5 {before[name]['Success@5']:.3f} → "
            f"{after[name]['Success@5']:.3f}" for name in before if name in after]  # fmt: skip
