"""Contrastive fine-tuning of a sentence-transformers embedder on the CPU: in-batch negatives
plus one hard negative per pair (sentence-transformers' MultipleNegativesRankingLoss), bf16
autocast where the CPU has it, a fixed seed, a step count and a time budget. Torch arrives with
the model, through the encoder seam."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from retriever.lazy import require
from retriever.models.encoder import SentenceTransformerEncoder
from retriever.models.precision import inference
from retriever.tuning.pairs import Pair

TRAIN_MAX_TOKENS = 256  # passages are chunks of at most this many tokens by default
WARMUP_SHARE = 0.1


@dataclass(frozen=True)
class TuneConfig:
    """Defaults by measurement (bench/tune_protocol.py): on corpus/eval, 60 steps at 2e-5 cost
    0.019 hybrid nDCG@10 and 5e-6 gained 0.005; a small model forgets fast."""

    steps: int = 100
    batch_size: int = 16
    learning_rate: float = 5e-6
    seed: int = 0
    budget_seconds: float = 1800.0


@dataclass(frozen=True)
class TrainReport:
    config: TuneConfig
    steps: int  # steps taken: fewer than asked when the budget ran out
    pairs_seen: int
    seconds: float
    first_loss: float
    last_loss: float
    stopped_by_budget: bool

    @property
    def pairs_per_second(self) -> float:
        return self.pairs_seen / self.seconds if self.seconds else 0.0


def batches(pairs: Sequence[Pair], size: int, rng: random.Random) -> Iterator[list[Pair]]:
    """Endless shuffled batches in which no passage, query or passage group (title and
    section) appears twice: another pair's passage is a negative, so a repeated one, or one
    from the same place, would be a false negative."""
    while True:
        order = list(pairs)
        rng.shuffle(order)
        batch: list[Pair] = []
        seen: set[str] = set()
        full = 0
        for pair in order:
            keys = [pair.passage, pair.query] + ([pair.group] if pair.group else [])
            if any(key in seen for key in keys):
                continue
            batch.append(pair)
            seen.update(keys)
            if len(batch) == size:
                yield batch
                batch, seen, full = [], set(), full + 1
        if not full:  # too few distinct places to fill one batch: train on what there is
            if len(batch) < 2:
                raise ValueError("the training pairs all come from one place: nothing to contrast")
            yield batch


def train(
    encoder: SentenceTransformerEncoder, pairs: Sequence[Pair], config: TuneConfig,
    progress: Callable[[int], None] | None = None,
) -> TrainReport:  # fmt: skip
    """Tune `encoder`'s model in place; the caller saves it."""
    if len(pairs) < 2:
        raise ValueError("tuning needs at least two training pairs")
    torch = require("torch", "torch")
    torch.manual_seed(config.seed)
    model: Any = encoder.model
    loss_fn = _losses().MultipleNegativesRankingLoss(model)
    optimizer, schedule = _optimizer(model, config)
    rng = random.Random(config.seed)
    began, losses, seen, step = time.perf_counter(), [], 0, 0
    model.train()
    length, model.max_seq_length = model.max_seq_length, min(model.max_seq_length, TRAIN_MAX_TOKENS)
    try:
        for step, batch in enumerate(batches(pairs, config.batch_size, rng), start=1):
            losses.append(_step(encoder, loss_fn, optimizer, schedule, batch))
            seen += len(batch)
            if progress is not None:
                progress(1)
            if step >= config.steps or time.perf_counter() - began > config.budget_seconds:
                break
    finally:
        model.max_seq_length = length
        model.eval()
    return TrainReport(config, step, seen, time.perf_counter() - began, losses[0], losses[-1],
                       step < config.steps)  # fmt: skip


def _losses() -> Any:
    """sentence-transformers' losses, where its version keeps them (moved in 6)."""
    try:
        return require("sentence_transformers.sentence_transformer.losses", "sentence-transformers")
    except RuntimeError:
        return require("sentence_transformers.losses", "sentence-transformers")


def _optimizer(model: Any, config: TuneConfig) -> tuple[Any, Any]:
    """AdamW over everything but the word embeddings: 250k rows of a multilingual vocabulary
    that a plant's few thousand pairs would only disturb, and most of the optimiser's cost."""
    torch = require("torch", "torch")
    schedules = require("transformers", "transformers")
    for name, parameter in model.named_parameters():
        parameter.requires_grad = "word_embeddings" not in name
    trained = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trained, lr=config.learning_rate)
    warmup = max(1, int(config.steps * WARMUP_SHARE))
    return optimizer, schedules.get_linear_schedule_with_warmup(optimizer, warmup, config.steps)


def _step(
    encoder: SentenceTransformerEncoder, loss_fn: Any, optimizer: Any, schedule: Any,
    batch: list[Pair],
) -> float:  # fmt: skip
    model: Any = encoder.model
    columns = [
        [encoder.query_prefix + p.query for p in batch],
        [encoder.passage_prefix + p.passage for p in batch],
        [encoder.passage_prefix + (p.negative or batch[(i + 1) % len(batch)].passage)
         for i, p in enumerate(batch)],
    ]  # fmt: skip
    tokenize = getattr(model, "preprocess", None) or model.tokenize  # renamed in 6
    features = [tokenize(texts) for texts in columns]
    with inference(encoder.precision):
        loss = loss_fn(features, None)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    schedule.step()
    return float(loss.detach())


def save(encoder: SentenceTransformerEncoder, folder: Path) -> None:
    """The tuned model as a sentence-transformers folder (safetensors)."""
    encoder.model.save(str(folder), safe_serialization=True)
