"""fp32, bf16 autocast and bf16 weights side by side in one run: speed, agreement, retrieval.

    python -m bench.precision [--sets corpus/eval emanual-tv tatoeba-zh-en] [--limit 400]

For each BEIR set (a folder, or a name under ../shared/evaldata/) the corpus (at most --limit
documents, whole, truncated to the model's length) and its queries are embedded with the default
model three ways: fp32; `torch.autocast` bf16 (what SHIFU_PRECISION=bf16 runs); and the weights
cast to bf16. Printed per variant: passages/s, the lowest and mean cosine to fp32, and dense
nDCG@10 / Success@5 over that corpus, so the choice between the two bf16 ways rests on
retrieval, not speed alone. `shifu eval` with SHIFU_PRECISION=fp32 and =bf16 measures the full
pipeline (chunking, hybrid).
"""

from __future__ import annotations

import argparse
import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np

from ingest.datasets.beir import BeirDataset, load_beir
from retriever.lazy import require
from retriever.models.encoder import DEFAULT_MODEL, SentenceTransformerEncoder, load_encoder
from retriever.ranking.metrics import mean, per_query

SHARED = Path(__file__).resolve().parents[2] / "shared" / "evaldata"
DEFAULT_SETS = ("corpus/eval", "emanual-tv", "tatoeba-zh-en", "drcd-dev", "scifact")
METRICS = ("nDCG@10", "Success@5")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", nargs="+", default=list(DEFAULT_SETS))
    parser.add_argument("--limit", type=int, default=400, help="corpus documents per set")
    parser.add_argument("--models-dir", type=Path, default=Path(".shifu/models"))
    args = parser.parse_args()
    encoder = load_encoder(DEFAULT_MODEL, args.models_dir, precision="fp32")
    print("| set | variant | passages/s | min cos | mean cos | nDCG@10 | Success@5 |")
    print("|---|---|---|---|---|---|---|")
    for name in args.sets:
        dataset = _subset(load_beir(_folder(name)), args.limit)
        reference: tuple[np.ndarray, np.ndarray] | None = None
        for variant, context in _variants(encoder):
            with context():
                began = time.perf_counter()
                passages = _encode(encoder, [f"{d.title}\n{d.text}" for d in dataset.corpus],
                                   "passage")  # fmt: skip
                rate = len(passages) / (time.perf_counter() - began)
                queries = _encode(encoder, [q.text for q in dataset.queries], "query")
            reference = reference or (passages, queries)
            cosines = np.sum(passages * reference[0], axis=1)
            scores = _dense_scores(dataset, passages, queries)
            print(f"| {dataset.name} ({len(passages)} docs, {len(queries)} q) | {variant} | "
                  f"{rate:.1f} | {cosines.min():.5f} | {cosines.mean():.5f} | "
                  f"{scores['nDCG@10']:.3f} | {scores['Success@5']:.3f} |")  # fmt: skip


def _folder(name: str) -> Path:
    path = Path(name)
    return path if path.is_dir() else SHARED / name


def _subset(dataset: BeirDataset, limit: int) -> BeirDataset:
    """The first `limit` documents and the queries whose judged documents all lie among them."""
    corpus = dataset.corpus[:limit]
    kept = {d.corpus_id for d in corpus}
    qrels = {q: docs for q, docs in dataset.qrels.items() if docs and set(docs) <= kept}
    queries = [q for q in dataset.queries if q.query_id in qrels]
    return replace(dataset, corpus=corpus, queries=queries, qrels=qrels)


def _variants(
    encoder: SentenceTransformerEncoder,
) -> Iterator[tuple[str, Callable[[], contextlib.AbstractContextManager[None]]]]:
    torch = require("torch", "torch")
    yield "fp32", contextlib.nullcontext
    yield "bf16 autocast", lambda: torch.autocast("cpu", dtype=torch.bfloat16)
    encoder.model.to(torch.bfloat16)
    try:
        yield "bf16 weights", contextlib.nullcontext
    finally:
        encoder.model.to(torch.float32)


def _encode(encoder: SentenceTransformerEncoder, texts: list[str], kind: str) -> np.ndarray:
    prompt = encoder.passage_prefix if kind == "passage" else encoder.query_prefix
    vectors = encoder.model.encode(
        [prompt + t for t in texts], batch_size=32, normalize_embeddings=True,
        convert_to_tensor=True, show_progress_bar=False,
    )  # fmt: skip
    return np.asarray(vectors.float().numpy(), dtype=np.float32)


def _dense_scores(
    dataset: BeirDataset, passages: np.ndarray, queries: np.ndarray
) -> dict[str, float]:
    ids = [d.corpus_id for d in dataset.corpus]
    order = np.argsort(-(queries @ passages.T), axis=1, kind="stable")[:, :100]
    pairs = zip(dataset.queries, order, strict=True)
    rankings = {q.query_id: [ids[i] for i in row] for q, row in pairs}
    return mean(per_query(dataset.qrels, rankings, METRICS), METRICS)


if __name__ == "__main__":
    main()
