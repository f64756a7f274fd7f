"""`shifu tune`'s protocol: tune on a set's corpus only (its documents, never its queries), then
measure its queries before and after, side by side in one run.

    python -m bench.tune_protocol [--sets corpus/eval emanual-tv ...] [--steps 100] [--heldout]

Per set: the training pairs by source, training time and pairs/s, `shifu eval`'s nDCG@10 and
Success@5 (dense and hybrid) of the current and the tuned model, what the gate decides (adopt
only when hybrid nDCG@10 improves), and the time to re-embed the set's index with the tuned
model. `--heldout` adds corpus/eval with half its questions as operator feedback ("helped" on
their judged passages) and the other half, by query, as the eval set.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

from ingest.chunking.units import ChunkingConfig
from ingest.datasets.beir import BeirDataset, CorpusEntry, load_beir, write_beir
from ingest.reembed import reembed
from retriever.models.encoder import DEFAULT_MODEL, SentenceTransformerEncoder, load_encoder
from retriever.store.index_store import IndexStore
from retriever.tuning.negatives import with_negatives
from retriever.tuning.pairs import Judged, Pair, counts, extract_pairs
from retriever.tuning.train import TuneConfig, train
from service.evaluation import EvalResult, cached_index, evaluate
from service.tuning import MIN_PAIRS, at_most

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "evaldata"
DEFAULT_SETS = ("corpus/eval", "emanual-tv", "drcd-dev", "scifact", "tatoeba-zh-en")
GLOSSARIES = {"corpus/eval": REPO / "corpus" / "glossary.csv"}
MODES = ("dense", "hybrid")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", nargs="*", default=list(DEFAULT_SETS))
    parser.add_argument("--steps", type=int, default=TuneConfig.steps)
    parser.add_argument("--learning-rate", type=float, default=TuneConfig.learning_rate)
    parser.add_argument("--batch-size", type=int, default=TuneConfig.batch_size)
    parser.add_argument("--home", type=Path, default=Path(".shifu"), help="model and eval cache")
    parser.add_argument("--heldout", action="store_true", help="add corpus/eval's feedback split")
    args = parser.parse_args()
    config = TuneConfig(args.steps, args.batch_size, args.learning_rate)
    print(f"tune: {config}")
    print(
        "| set | pairs | train s | pairs/s | mode | nDCG@10 before → after | Success@5 "
        "before → after | gate | re-embed s |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for name in args.sets:
        _one(name, _folder(name), GLOSSARIES.get(name), config, args.home, heldout=False)
    if args.heldout:
        with tempfile.TemporaryDirectory() as scratch:
            half = _eval_half(REPO / "corpus" / "eval", Path(scratch))
            _one("corpus/eval held out", half, GLOSSARIES["corpus/eval"], config, args.home,
                 heldout=True)  # fmt: skip


def _folder(name: str) -> Path:
    return REPO / name if (REPO / name).is_dir() else SHARED / name


def _one(
    name: str, folder: Path, glossary: Path | None, config: TuneConfig, home: Path, heldout: bool
) -> None:
    base = load_encoder(DEFAULT_MODEL, home / "models")
    chunking = ChunkingConfig()
    before = evaluate(folder, MODES, base, home / "eval-cache", chunking, glossary=glossary)
    dataset = load_beir(folder, glossary=glossary)
    store = cached_index(dataset, base, home / "eval-cache", chunking, None)
    pairs = _pairs(store, dataset, base, config, heldout)
    if len(pairs) < MIN_PAIRS:  # as `shifu tune` refuses: nothing is trained, nothing changes
        for run in before.runs:
            print(f"| {name} | {len(pairs)} | – | – | {run.mode} | {run.metrics['nDCG@10']:.3f} "
                  f"(no pairs: not tuned) | {run.metrics['Success@5']:.3f} | keep | – |")
        return
    # trained in place: `base` is loaded afresh for the next set
    tuned = SentenceTransformerEncoder(base.model, f"{base.name}-protocol", 32, base.precision)
    report = train(tuned, pairs, config)
    with tempfile.TemporaryDirectory() as scratch:
        after = evaluate(folder, MODES, tuned, Path(scratch), chunking, glossary=glossary)
        copy = Path(scratch) / "reembed"
        shutil.copytree(store.root.parent, copy)
        began = time.perf_counter()
        reembed(IndexStore(copy), tuned)
        reembed_seconds = time.perf_counter() - began
    by_source = ", ".join(f"{n} {s}" for s, n in counts(pairs).items() if n)
    _print(name, f"{len(pairs)} ({by_source})", report.seconds, report.pairs_per_second,
           before, after, reembed_seconds)  # fmt: skip


def _pairs(
    store: IndexStore, dataset: BeirDataset, encoder: SentenceTransformerEncoder,
    config: TuneConfig, heldout: bool,
) -> list[Pair]:  # fmt: skip
    snapshot = store.snapshot()
    assert snapshot is not None
    rows = snapshot.chunk_rows(list(snapshot.chunk_docs())).values()
    judged = _feedback(snapshot.chunk_docs(), REPO / "corpus" / "eval") if heldout else []
    excluded = [q.text for q in dataset.queries]
    found = extract_pairs(rows, snapshot.glossary(None), judged, excluded, config.seed)
    pairs = with_negatives(at_most(found, config.steps * config.batch_size, config.seed),
                           snapshot, encoder)  # fmt: skip
    snapshot.close()
    return pairs


def _feedback(chunk_docs: dict[int, str], folder: Path) -> list[Judged]:
    """The even half of corpus/eval's questions, as 'helped' on every passage judged for them."""
    full = load_beir(folder)
    chunks_of: dict[str, list[int]] = {}
    for chunk_id, doc in chunk_docs.items():
        chunks_of.setdefault(doc, []).append(chunk_id)
    return [Judged(q.text, chunk_id, True) for q in full.queries[::2]
            for doc in full.qrels[q.query_id] for chunk_id in chunks_of.get(doc, [])]  # fmt: skip


def _eval_half(folder: Path, scratch: Path) -> Path:
    """corpus/eval with only its odd questions (the even ones are the feedback)."""
    full = load_beir(folder)
    kept = full.queries[1::2]
    out = scratch / "eval-odd"
    corpus = [{"_id": e.corpus_id, "title": e.title, "text": e.text,
               "metadata": _meta(e)} for e in full.corpus]  # fmt: skip
    write_beir(
        out,
        corpus,
        [{"_id": q.query_id, "text": q.text, "metadata": q.metadata} for q in kept],
        [(q.query_id, c, g) for q in kept for c, g in full.qrels[q.query_id].items()],
    )
    return out


def _meta(entry: CorpusEntry) -> dict[str, object]:
    meta = asdict(entry.meta)
    return {k: v for k, v in meta.items() if v not in (None, (), [])}


def _print(
    name: str, pairs: str, seconds: float, rate: float, before: EvalResult, after: EvalResult,
    reembed_seconds: float,
) -> None:  # fmt: skip
    hybrid = [r.metrics["nDCG@10"] for r in (before.runs[1], after.runs[1])]
    gate = "adopt" if hybrid[1] > hybrid[0] else "keep"
    for old, new in zip(before.runs, after.runs, strict=True):
        print(f"| {name} | {pairs} | {seconds:.0f} | {rate:.1f} | {old.mode} | "
              f"{old.metrics['nDCG@10']:.3f} → {new.metrics['nDCG@10']:.3f} | "
              f"{old.metrics['Success@5']:.3f} → {new.metrics['Success@5']:.3f} | {gate} | "
              f"{reembed_seconds:.1f} |")  # fmt: skip
        for kind, values in old.by_type.items():
            tuned = new.by_type.get(kind, {})
            print(f"|  | | | | {old.mode} {kind} | {values['nDCG@10']:.3f} → "
                  f"{tuned.get('nDCG@10', 0):.3f} | {values['Success@5']:.3f} → "
                  f"{tuned.get('Success@5', 0):.3f} | | |")  # fmt: skip


if __name__ == "__main__":
    main()
