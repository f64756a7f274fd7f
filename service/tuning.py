"""`shifu tune`'s work, over the runtime: training pairs from the live index, its glossary and
the operators' verdicts; a contrastive tune of a copy of the current model; the gate that
measures the copy against the current model on the plant's eval set; adoption (re-embedding
the index into a new generation) only when the eval set improves; and rollback."""

from __future__ import annotations

import random
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ingest.datasets.beir import load_beir
from ingest.pipeline import Progress
from ingest.reembed import reembed
from retriever.models.encoder import Encoder, SentenceTransformerEncoder, load_encoder, model_name
from retriever.models.tuned import (
    TunedModel,
    next_name,
    publish_tuned,
    read_tuned,
    remove_stale,
    staging_for,
    tuned_folder,
    tuned_root,
    weights_hash,
)  # fmt: skip
from retriever.ranking.modes import DEFAULT_MODE
from retriever.tuning.negatives import with_negatives
from retriever.tuning.pairs import Judged, Pair, counts, extract_pairs
from retriever.tuning.train import TrainReport, TuneConfig, save, train
from service.evaluation import EvalResult, evaluate
from service.feedback import FEEDBACK_DB, FeedbackStore, latest
from service.runtime import Runtime

GATE_METRIC = "nDCG@10"
MIN_PAIRS = 8  # fewer cannot fill one batch of in-batch negatives worth the name
SAMPLE_PER_SOURCE = 3

ProgressFactory = Callable[[str], Progress]


class TuneError(ValueError):
    """Tuning cannot start or cannot be adopted (no eval set, no pairs, nothing to roll back)."""


@dataclass(frozen=True)
class Gate:
    mode: str
    before: EvalResult
    after: EvalResult
    min_gain: float

    def score(self, result: EvalResult) -> float:
        return result.runs[0].metrics[GATE_METRIC]

    @property
    def adopted(self) -> bool:
        return self.score(self.after) > self.score(self.before) + self.min_gain


@dataclass
class TuneOutcome:
    pairs: dict[str, int]
    sample: list[Pair]
    trained: TrainReport | None = None
    gate: Gate | None = None
    model: str | None = None  # the model the index uses afterwards
    reembed_seconds: float = 0.0
    notes: list[str] = field(default_factory=list)


def training_pairs(
    runtime: Runtime, eval_set: Path | None, seed: int, encoder: Encoder | None,
    limit: int | None = None,
) -> list[Pair]:  # fmt: skip
    """The pairs of the live index, none of whose queries is a question of `eval_set`, at most
    `limit` of them (a seeded sample, kept in proportion to the sources); hard negatives by
    BM25 and, given `encoder`, the current model."""
    excluded = [q.text for q in load_beir(eval_set).queries] if eval_set else []
    with runtime.reading() as snapshot:
        rows = snapshot.chunk_rows(list(snapshot.chunk_docs())).values()
        pairs = extract_pairs(rows, snapshot.glossary(None), _judged(runtime), excluded, seed)
        return with_negatives(at_most(pairs, limit, seed), snapshot, encoder)


def at_most(pairs: list[Pair], limit: int | None, seed: int) -> list[Pair]:
    """A training run sees steps x batch pairs: mining negatives for more is wasted time in a
    large home. Feedback pairs, the rarest and most telling, are always kept."""
    if limit is None or len(pairs) <= limit:
        return pairs
    kept = [p for p in pairs if p.source == "feedback"]
    rest = [p for p in pairs if p.source != "feedback"]
    return kept + random.Random(seed).sample(rest, max(0, limit - len(kept)))


def sample(pairs: list[Pair], seed: int) -> list[Pair]:
    """A few pairs of each source, the same ones for the same seed."""
    rng = random.Random(seed)
    picked: list[Pair] = []
    for source in counts(pairs):
        of_source = [p for p in pairs if p.source == source]
        picked += rng.sample(of_source, min(SAMPLE_PER_SOURCE, len(of_source)))
    return picked


def _judged(runtime: Runtime) -> list[Judged]:
    path = runtime.settings.home / FEEDBACK_DB
    if not path.is_file():
        return []
    store = FeedbackStore(path)
    try:
        return [Judged(v.question, v.chunk_id, v.verdict == "helped") for v in latest(store.all())]
    finally:
        store.close()


def tune(
    runtime: Runtime, eval_set: Path, config: TuneConfig, bars: ProgressFactory | None = None,
    mode: str = DEFAULT_MODE, min_gain: float = 0.0,
) -> TuneOutcome:  # fmt: skip
    """Tune, gate, and adopt when the gate passes; the current model stays otherwise."""
    runtime.store.check_writer_free()  # before minutes of training, not after
    limit = config.steps * config.batch_size
    pairs = training_pairs(runtime, eval_set, config.seed, runtime.encoder, limit)
    if len(pairs) < MIN_PAIRS:
        raise TuneError(f"only {len(pairs)} training pairs in this index; ingest documents first")
    outcome = TuneOutcome(counts(pairs), sample(pairs, config.seed))
    candidate = _trainable(runtime, next_name(runtime.settings.home, _base(runtime)))
    bar = bars("tuning steps") if bars else None
    if bar:
        bar.start(config.steps)
    outcome.trained = train(candidate, pairs, config, bar.advance if bar else None)
    outcome.gate = _gate(runtime, eval_set, candidate, mode, min_gain, bars)
    if not outcome.gate.adopted:
        outcome.model = runtime.encoder.name
        outcome.notes.append("the eval set did not improve: the current model is kept")
        return outcome
    _publish(runtime, candidate, outcome)
    began = time.perf_counter()
    reembed(runtime.store, candidate, bars("re-embedding") if bars else None)
    outcome.reembed_seconds = time.perf_counter() - began
    outcome.model = candidate.name
    return outcome


def _base(runtime: Runtime) -> str:
    return model_name(runtime.base_model)


def _trainable(runtime: Runtime, name: str) -> SentenceTransformerEncoder:
    """A fresh copy of the current model (the runtime's stays as it is), named as the tune."""
    settings = runtime.settings
    loaded = load_encoder(settings.model, settings.model_cache, settings.batch_size,
                          settings.precision, trainable=True)  # fmt: skip
    return SentenceTransformerEncoder(loaded.model, name, settings.batch_size, loaded.precision)


def _gate(
    runtime: Runtime, eval_set: Path, candidate: Encoder, mode: str, min_gain: float,
    bars: ProgressFactory | None,
) -> Gate:  # fmt: skip
    home, chunking = runtime.settings.home, runtime.chunking
    before = evaluate(eval_set, [mode], runtime.encoder, home / "eval-cache", chunking,
                      progress=bars)  # fmt: skip
    scratch = home / ".tune-eval"  # a candidate's name is reused if it is refused: no cache
    shutil.rmtree(scratch, ignore_errors=True)
    try:
        after = evaluate(eval_set, [mode], candidate, scratch, chunking, progress=bars)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return Gate(mode, before, after, min_gain)


def _publish(runtime: Runtime, candidate: SentenceTransformerEncoder, outcome: TuneOutcome) -> None:
    home = runtime.settings.home
    remove_stale(home)
    staging = staging_for(home, candidate.name)
    save(candidate, staging)
    trained, gate = outcome.trained, outcome.gate
    assert trained is not None and gate is not None
    record = TunedModel(
        candidate.name, _base(runtime), runtime.encoder.name, trained.steps,
        trained.config.seed, trained.config.learning_rate, trained.config.batch_size,
        outcome.pairs, round(trained.seconds, 1), weights_hash(staging), time.time(),
        {"metric": GATE_METRIC, "mode": gate.mode, "before": gate.score(gate.before),
         "after": gate.score(gate.after), "eval_set": gate.before.dataset},
    )  # fmt: skip
    publish_tuned(staging, record)


def rollback(runtime: Runtime, bars: ProgressFactory | None = None) -> str:
    """Re-embed the index with the model the current tune was made from; its name."""
    live = runtime.store.manifest()
    folder = tuned_folder(runtime.settings.home, live.model) if live else None
    if live is None or folder is None:
        raise TuneError("nothing to roll back: the index does not use a tuned model")
    parent = read_tuned(folder).parent
    earlier = tuned_folder(runtime.settings.home, parent)
    if earlier is None and parent != _base(runtime):
        raise TuneError(f"the model {live.model} was tuned from, {parent}, is no longer in "
                        f"{tuned_root(runtime.settings.home)}")  # fmt: skip
    settings = runtime.settings
    encoder = load_encoder(str(earlier) if earlier else runtime.base_model, settings.model_cache,
                           settings.batch_size, settings.precision)  # fmt: skip
    reembed(runtime.store, encoder, bars("re-embedding") if bars else None)
    return encoder.name
