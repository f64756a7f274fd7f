"""Query latency per mode at 10k and 100k chunks, next to a raw encode + FAISS search baseline.

    python bench/query_latency.py [--sizes 10000 100000] [--queries 200] [--real 2000]
                                  [--precision auto]

Embedding 100k chunks takes over an hour on 2 cores, so the corpus is synthetic: `--real`
chunks from the shared sets (SciFact, e-manual, DRCD: English and Traditional Chinese) are
embedded once with the default model, then tiled to each size with small noise on the vectors,
a fifth of the words dropped at random and a distinct tag word per copy (so copies are similar
but not near-duplicates, and BM25 sees a growing vocabulary). Latency depends on size
and shape, not on which texts they are. Every timing of one size comes from the same run.
"""

from __future__ import annotations

import argparse
import functools
import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from retriever.models.encoder import DEFAULT_MODEL, SentenceTransformerEncoder, load_encoder
from retriever.ranking.search import search
from retriever.records import Chunk, Document
from retriever.store.faiss_backend import approximate
from retriever.store.index_store import IndexStore
from retriever.store.snapshot import GenerationSnapshot

SHARED = Path(__file__).resolve().parents[2] / "shared" / "evaldata"
SETS = ("scifact", "emanual-tv", "drcd-dev")
CHUNKS_PER_DOC = 10


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--real", type=int, default=2000)
    parser.add_argument("--models-dir", type=Path, default=Path(".shifu/models"))
    parser.add_argument("--precision", default="auto", help="auto, bf16 or fp32")
    args = parser.parse_args()
    encoder = load_encoder(DEFAULT_MODEL, args.models_dir, precision=args.precision)
    texts, questions = sample_texts(args.real), sample_questions(args.queries)
    vectors = encoder.encode_passages(texts)
    print(f"real chunks embedded: {len(texts)}; queries: {len(questions)}; {encoder.precision}")
    for size in args.sizes:
        with tempfile.TemporaryDirectory() as home:
            store = IndexStore(Path(home))
            _build(store, encoder, texts, vectors, size)
            snapshot = store.snapshot()
            assert snapshot is not None
            _report(size, snapshot, encoder, questions)


def sample_texts(count: int) -> list[str]:
    per_set = count // len(SETS)
    texts: list[str] = []
    for name in SETS:
        with (SHARED / name / "corpus.jsonl").open(encoding="utf-8") as handle:
            for line, _ in zip(handle, range(per_set), strict=False):
                texts.append(json.loads(line)["text"][:1000])
    return texts


def sample_questions(count: int) -> list[str]:
    questions: list[str] = []
    for name in SETS:
        with (SHARED / name / "queries.jsonl").open(encoding="utf-8") as handle:
            for line, _ in zip(handle, range(count // len(SETS)), strict=False):
                questions.append(json.loads(line)["text"])
    return questions


def _build(
    store: IndexStore, encoder: SentenceTransformerEncoder, texts: list[str],
    vectors: np.ndarray, size: int,
) -> None:  # fmt: skip
    rng = np.random.default_rng(0)
    began = time.perf_counter()
    with store.writer(encoder.name, encoder.dim) as writer:
        for doc_no, start in enumerate(range(0, size, CHUNKS_PER_DOC)):
            rows = [(start + i) % len(texts) for i in range(CHUNKS_PER_DOC)]
            tag = f"copy{(start // len(texts))}"
            chunk_texts = [f"{_variant(texts[r], rng)} {tag}" for r in rows]
            noisy = vectors[rows] + rng.normal(0, 0.01, size=(len(rows), encoder.dim))
            noisy /= np.linalg.norm(noisy, axis=1, keepdims=True)
            doc = Document(f"d{doc_no}", f"doc {doc_no}", f"d{doc_no}.txt", f"/bench/d{doc_no}",
                           "h", "text", ("\n".join(chunk_texts),))  # fmt: skip
            chunks = [Chunk(doc.key, i, t, 0, len(t)) for i, t in enumerate(chunk_texts)]
            writer.put_document(doc, chunks, noisy.astype(np.float32))
        manifest = writer.commit()
    dense = "HNSW" if approximate("auto", size) else "exact"
    print(f"\n{size} chunks built in {time.perf_counter() - began:.0f} s (language "
          f"projection: {manifest.language_projection}; dense search {dense})")  # fmt: skip


def _variant(text: str, rng: np.random.Generator) -> str:
    """A copy with a fifth of its words dropped: similar, not a near-duplicate to collapse."""
    words = text.split()
    kept = [w for w in words if rng.random() > 0.2]
    return " ".join(kept or words)


def _report(
    size: int,
    snapshot: GenerationSnapshot,
    encoder: SentenceTransformerEncoder,
    questions: list[str],
) -> None:
    baseline = _timings(questions, lambda q: _raw(snapshot, encoder, q))
    print(f"{'mode':<16}{'p50 ms':>9}{'p99 ms':>9}{'p50 / baseline':>16}")
    print(f"{'raw encode+FAISS':<16}{_p(baseline, 50):9.1f}{_p(baseline, 99):9.1f}{1.0:16.2f}")
    for mode in ("dense", "bm25", "hybrid"):
        timings = _timings(questions, functools.partial(_search, snapshot, encoder, mode))
        ratio = _p(timings, 50) / _p(baseline, 50)
        print(f"{mode:<16}{_p(timings, 50):9.1f}{_p(timings, 99):9.1f}{ratio:16.2f}")


def _search(
    snapshot: GenerationSnapshot, encoder: SentenceTransformerEncoder, mode: str, question: str
) -> None:
    search(snapshot, encoder, question, 5, mode)


def _raw(snapshot: GenerationSnapshot, encoder: SentenceTransformerEncoder, question: str) -> None:
    vector = encoder.encode_queries([question])
    snapshot.dense.search_many(vector, 5, None)


def _timings(questions: list[str], run: Callable[[str], object]) -> list[float]:
    run(questions[0])  # warm caches and lazy loads outside the measurement
    timings = []
    for question in questions:
        began = time.perf_counter()
        run(question)
        timings.append((time.perf_counter() - began) * 1000)
    return timings


def _p(values: list[float], percentile: int) -> float:
    return float(np.percentile(values, percentile))


if __name__ == "__main__":
    main()
