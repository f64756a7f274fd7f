"""Cross-script highlights: sentence embedding alone against dictionary alignment first, side by
side on corpus/eval's cross-language questions.

    python -m bench.highlight [--precision bf16]

Ingests corpus/ with the real model, runs every zh→en and en→zh question of corpus/eval
(hybrid, k=5) and highlights the same passages two ways, each with a cold sentence cache:
`embedding` (the sentences of a passage in the other script are embedded and compared with the
question, as before) and `dictionary` (the question's CC-CEDICT translations are matched first;
the embedder only where they match nothing). For every passage holding a sentence of a judged
answer unit, a highlight is on the answer when its sentence lies in that unit. Printed per way:
such passages, the share highlighted on the answer, sentences embedded, and the highlight
step's p50/p99 milliseconds per question.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ingest.pipeline import ingest
from retriever.models.encoder import DEFAULT_MODEL, Encoder, load_encoder
from retriever.models.sentence_cache import CachingEncoder
from retriever.ranking.highlight import best_sentences
from retriever.ranking.search import search, translated
from retriever.records import Passage
from retriever.store.index_store import IndexStore
from retriever.store.snapshot import GenerationSnapshot

REPO = Path(__file__).resolve().parents[1]
EVAL = REPO / "corpus" / "eval"
CROSS = ("zh→en", "en→zh")


class Counting(CachingEncoder):
    """A cold sentence cache that counts the sentences it had to embed."""

    def __init__(self, inner: Encoder) -> None:
        super().__init__(inner)
        self.embedded = 0

    def encode_sentences(self, texts: Sequence[str]) -> np.ndarray:
        before = len(self._vectors)
        vectors = super().encode_sentences(texts)
        self.embedded += len(self._vectors) - before
        return vectors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--precision", default="bf16")
    parser.add_argument("--models-dir", type=Path, default=Path(".shifu/models"))
    args = parser.parse_args()
    encoder = load_encoder(DEFAULT_MODEL, args.models_dir, precision=args.precision)
    questions, gold = _cross_questions()
    with tempfile.TemporaryDirectory() as home:
        store = IndexStore(Path(home))
        ingest([REPO / "corpus"], store, encoder)
        snapshot = store.snapshot()
        assert snapshot is not None
        found = [(q, search(snapshot, encoder, q, 5).passages) for q in questions]
        print(f"{len(questions)} cross-language questions; precision {encoder.precision}")
        print("| way | passages with an answer | highlighted on it | sentences embedded |"
              " p50 ms | p99 ms |\n|---|---|---|---|---|---|")  # fmt: skip
        for way in ("embedding", "dictionary"):
            _report(way, snapshot, encoder, found, gold)


def _cross_questions() -> tuple[list[str], dict[str, list[str]]]:
    corpus = {row["_id"]: row["text"] for row in _jsonl(EVAL / "corpus.jsonl")}
    judged: dict[str, list[str]] = {}
    for line in (EVAL / "qrels" / "test.tsv").read_text(encoding="utf-8").splitlines()[1:]:
        query_id, corpus_id, grade = line.split("\t")
        if int(grade) > 0:
            judged.setdefault(query_id, []).append(" ".join(corpus[corpus_id].split()))
    rows = [r for r in _jsonl(EVAL / "queries.jsonl") if r["metadata"].get("type") in CROSS]
    return [r["text"] for r in rows], {r["text"]: judged.get(r["_id"], []) for r in rows}


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def _report(
    way: str, snapshot: GenerationSnapshot, encoder: Encoder,
    found: list[tuple[str, list[Passage]]], gold: dict[str, list[str]],
) -> None:  # fmt: skip
    cache = Counting(encoder)
    eligible = hits = 0
    times: list[float] = []
    for question, passages in found:
        texts = [p.text for p in passages]
        vector = encoder.encode_queries([question])[0]
        translate = (lambda q=question: translated(snapshot, q)) if way == "dictionary" else None
        began = time.perf_counter()
        spans = best_sentences(texts, question, vector, cache, translate)
        times.append((time.perf_counter() - began) * 1000)
        for text, span in zip(texts, spans, strict=True):
            units = [u for u in gold[question] if _shares_a_sentence(text, u)]
            if not units:
                continue
            eligible += 1
            sentence = " ".join(text[span[0] : span[1]].split()) if span else ""
            hits += bool(sentence) and any(sentence in u for u in units)
    p50, p99 = np.percentile(times, [50, 99])
    print(f"| {way} | {eligible} | {hits / max(eligible, 1):.3f} | {cache.embedded} |"
          f" {p50:.1f} | {p99:.1f} |")  # fmt: skip


def _shares_a_sentence(text: str, unit: str) -> bool:
    flat = " ".join(text.split())
    pieces = [p.strip() for p in unit.replace("。", "。\n").replace(". ", ".\n").splitlines()]
    return any(len(p) >= 10 and p in flat for p in pieces)


if __name__ == "__main__":
    main()
