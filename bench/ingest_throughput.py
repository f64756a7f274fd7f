"""Ingest throughput next to the raw model rate, measured side by side in one run.

    python bench/ingest_throughput.py [FOLDER] [--model NAME] [--precision fp32 bf16]

For each precision (default: fp32, then bf16), ingests FOLDER (default
../shared/evaldata/osha-pdfs) into a throwaway home with the real model, then encodes the same
chunk texts with `SentenceTransformer.encode` directly at that precision, and prints pages,
chunks, seconds, chunks/s for both, and their ratio; then each precision's rate against the
first's.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from ingest.pipeline import ingest
from retriever.models.encoder import DEFAULT_MODEL, SentenceTransformerEncoder, load_encoder
from retriever.models.precision import inference
from retriever.store.index_store import IndexStore

DEFAULT_FOLDER = Path(__file__).resolve().parents[2] / "shared" / "evaldata" / "osha-pdfs"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", type=Path, default=DEFAULT_FOLDER)
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--models-dir", type=Path, default=Path(".shifu/models"))
    parser.add_argument("--precision", nargs="+", default=["fp32", "bf16"])
    args = parser.parse_args()
    rates = {p: _measure(args, load_encoder(args.model, args.models_dir, precision=p))
             for p in args.precision}  # fmt: skip
    first = args.precision[0]
    for precision, rate in rates.items():
        print(f"{precision} ingest rate / {first}: {rate / rates[first]:.2f}")


def _measure(args: argparse.Namespace, encoder: SentenceTransformerEncoder) -> float:
    """Prints one precision's figures; returns its ingest chunks/s."""
    with tempfile.TemporaryDirectory() as home:
        store = IndexStore(Path(home))
        summary = ingest([args.folder], store, encoder)
        snapshot = store.snapshot()
        assert snapshot is not None
        rows = snapshot.chunk_rows(range(1, summary.chunks + 1))
        texts = [rows[i].chunk.text for i in sorted(rows)]
    raw_seconds = _raw_encode_seconds(encoder, texts)
    ingest_rate = summary.chunks / summary.seconds
    raw_rate = len(texts) / raw_seconds
    print(f"folder            {args.folder}")
    print(f"model             {encoder.name} (dim {encoder.dim}, {encoder.precision})")
    print(f"documents         {summary.added} added, {summary.failed} failed")
    print(f"pages             {summary.pages}")
    print(f"chunks            {summary.chunks}")
    print(f"ingest seconds    {summary.seconds:.1f}  ({ingest_rate:.1f} chunks/s)")
    print(f"raw encode secs   {raw_seconds:.1f}  ({raw_rate:.1f} chunks/s, same texts)")
    print(f"ingest / raw rate {ingest_rate / raw_rate:.2f}")
    return ingest_rate


def _raw_encode_seconds(encoder: SentenceTransformerEncoder, texts: list[str]) -> float:
    prefixed = [encoder.passage_prefix + t for t in texts]
    began = time.perf_counter()
    with inference(encoder.precision):
        encoder.model.encode(
            prefixed, batch_size=32, normalize_embeddings=True, show_progress_bar=False
        )
    return time.perf_counter() - began


if __name__ == "__main__":
    main()
