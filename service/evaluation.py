"""`shifu eval`: index a BEIR corpus with production chunking (cached), run every query, score.

Qrels name corpus ids while the index holds chunks, so each ranking of chunks is mapped to the
corpus ids they came from, keeping each id's best chunk, before scoring.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np

from ingest.chunking.units import ChunkingConfig
from ingest.datasets.beir import BeirDataset, Query, corpus_documents, load_beir
from ingest.mining import MINING_VERSION
from ingest.pipeline import Progress, index_documents
from retriever.bm25.translation import Expansion
from retriever.models.encoder import Encoder
from retriever.models.reranker import Reranker
from retriever.ranking.across import across_vectors
from retriever.ranking.metrics import first_relevant_rank, mean, metric_names, per_query
from retriever.ranking.modes import Mode, check_mode, needs_vectors
from retriever.ranking.retrieve import rank_many, translate_many, translates
from retriever.records import ChunkRanking
from retriever.store.backend import VectorBackend
from retriever.store.index_store import IndexStore
from retriever.store.manifest import FORMAT_VERSION
from retriever.store.milvus.backend import MilvusBackend
from retriever.store.milvus.migrate import migrate_to_milvus
from retriever.store.snapshot import GenerationSnapshot
from retriever.text import detect_language

DOC_DEPTH = 100  # R@100 needs 100 distinct corpus ids
CHUNK_DEPTH = 1000  # chunks fetched to fill DOC_DEPTH ids when documents have many chunks
TOP_IDS_IN_REPORT = 10

ProgressFactory = Callable[[str], Progress]
BackendFor = Callable[[str], VectorBackend]


@dataclass(frozen=True)
class QueryOutcome:
    query_id: str
    language: str
    query_type: str | None
    first_relevant: int | None
    top_ids: list[str]


@dataclass
class RunResult:
    mode: str
    metrics: dict[str, float]
    by_language: dict[str, dict[str, float]]
    by_type: dict[str, dict[str, float]]
    seconds: float
    outcomes: list[QueryOutcome] = field(default_factory=list)
    by_kind: dict[str, dict[str, float]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        return {
            "mode": self.mode, "metrics": self.metrics, "by_language": self.by_language,
            "by_type": self.by_type, "by_kind": self.by_kind, "seconds": round(self.seconds, 2),
        }  # fmt: skip


@dataclass
class EvalResult:
    dataset: str
    queries: int
    runs: list[RunResult]
    metric_names: tuple[str, ...]
    index_seconds: float
    chunks: int

    def to_dict(self) -> dict[str, object]:
        return {
            "dataset": self.dataset, "queries": self.queries,
            "runs": [run.to_dict() for run in self.runs],
            "index_seconds": round(self.index_seconds, 1), "chunks": self.chunks,
        }  # fmt: skip


class _Context:
    """Per-dataset state shared by the modes: query vectors are encoded once for all of them."""

    def __init__(
        self, dataset: BeirDataset, snapshot: GenerationSnapshot, encoder: Encoder,
        progress: ProgressFactory | None, reranker: Reranker | None,
    ) -> None:  # fmt: skip
        self.dataset, self.snapshot, self.encoder = dataset, snapshot, encoder
        self.progress, self.reranker = progress, reranker
        self.doc_of = snapshot.chunk_docs()
        self.questions = [q.text for q in dataset.queries]
        self._vectors: np.ndarray | None = None
        self.encode_seconds = 0.0
        self.allowed = snapshot.select(None)  # as in search, superseded revisions are not ranked
        self._found: list[list[Expansion] | None] | None = None
        self._across: list[np.ndarray | None] | None = None
        self.translate_seconds = 0.0

    def vectors(self) -> np.ndarray:
        """Encoded once; every mode that uses them is charged the encoding time."""
        if self._vectors is None:
            began = time.perf_counter()
            self._vectors = _encode_queries(self.encoder, self.questions, self.progress)
            self.encode_seconds = time.perf_counter() - began
        return self._vectors

    def translated(self) -> tuple[list[list[Expansion] | None], list[np.ndarray | None]]:
        """The questions' expansions and across vectors, as hybrid search makes them; once,
        charged to every mode that translates."""
        if self._found is None or self._across is None:
            began = time.perf_counter()
            self._found = translate_many(self.snapshot, self.questions, self.allowed)
            self._across = _encode_across(self.encoder, self.questions, self._found,
                                          self.vectors(), self.progress)  # fmt: skip
            self.translate_seconds = time.perf_counter() - began
        return self._found, self._across


def evaluate(
    folder: Path,
    modes: Sequence[str],
    encoder: Encoder,
    cache_root: Path,
    config: ChunkingConfig,
    k: int = 10,
    progress: ProgressFactory | None = None,
    reranker: Reranker | None = None,
    backend_for: BackendFor | None = None,
    glossary: Path | None = None,
) -> EvalResult:
    """`backend_for(collection)` names a Milvus backend to evaluate on instead of FAISS;
    `glossary` a glossary file for the set (default: one in its folder, if any)."""
    checked = [check_mode(mode, reranker is not None) for mode in dict.fromkeys(modes)]
    dataset = load_beir(folder, glossary=glossary)
    began = time.perf_counter()
    store = cached_index(dataset, encoder, cache_root, config, progress, backend_for)
    index_seconds = time.perf_counter() - began
    snapshot = store.snapshot()
    assert snapshot is not None
    context = _Context(dataset, snapshot, encoder, progress, reranker)
    names = metric_names(k)
    runs = [_run(context, mode, names) for mode in checked]
    chunks = snapshot.manifest.count
    snapshot.close()
    return EvalResult(dataset.name, len(dataset.queries), runs, names, index_seconds, chunks)


def cache_key(dataset: BeirDataset, encoder: Encoder, config: ChunkingConfig) -> str:
    parts = [dataset.corpus_hash, encoder.name, str(encoder.dim), str(config.max_tokens),
             str(config.overlap_tokens), str(FORMAT_VERSION)]  # fmt: skip
    if encoder.precision != "fp32":  # fp32 keys stay as they were: their caches still serve
        parts.append(encoder.precision)
    parts.append(f"terms:{MINING_VERSION}:{dataset.glossary_hash}")  # mined and given terms
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:16]


def cached_index(
    dataset: BeirDataset,
    encoder: Encoder,
    cache_root: Path,
    config: ChunkingConfig,
    progress: ProgressFactory | None,
    backend_for: BackendFor | None = None,
) -> IndexStore:
    name = f"{dataset.name}-{cache_key(dataset, encoder, config)}"
    store = IndexStore(cache_root / name)
    if store.manifest() is None:  # generations swap atomically: present means complete
        bar = progress("embedding corpus") if progress else None
        index_documents(corpus_documents(dataset), store, encoder, config, bar)
    return store if backend_for is None else _moved(cache_root, name, backend_for)


def _moved(cache_root: Path, name: str, backend_for: BackendFor) -> IndexStore:
    """The cached FAISS index copied into the configured Milvus without re-embedding; one copy
    per Milvus target, so Milvus Lite and a server are never confused."""
    collection = "eval_" + re.sub(r"[^A-Za-z0-9_]", "_", name)
    backend = cast(MilvusBackend, backend_for(collection))
    where = hashlib.sha256(backend.target.uri.encode()).hexdigest()[:8]
    folder = cache_root / f"{name}-{backend.name}-{where}"
    manifest = IndexStore(folder, backend).manifest() if folder.exists() else None
    if manifest is not None and manifest.backend == backend.name:
        if backend.collection(manifest.dim).count() == manifest.count:
            return IndexStore(folder, backend)
        # the collection was dropped or emptied since (a new server): copy it again
        backend.collection(manifest.dim).drop()
        shutil.rmtree(folder)
        backend = cast(MilvusBackend, backend_for(collection))
    if not folder.exists():
        shutil.copytree(cache_root / name, folder)
    migrate_to_milvus(folder, backend)  # resumes an interrupted copy
    return IndexStore(folder, backend)


def _run(context: _Context, mode: Mode, names: tuple[str, ...]) -> RunResult:
    chunk_rankings, seconds = _rankings(context, mode)
    dataset = context.dataset
    doc_rankings = {
        q.query_id: _best_chunk_per_doc(ranking, context.doc_of)
        for q, ranking in zip(dataset.queries, chunk_rankings, strict=True)
    }
    values = per_query(dataset.qrels, doc_rankings, names)
    outcomes = [_outcome(dataset, q, doc_rankings[q.query_id]) for q in dataset.queries]
    by_language = _grouped(values, names, {o.query_id: o.language for o in outcomes})
    by_type = _grouped(values, names, _metadata(dataset, "type"))
    by_kind = _grouped(values, names, _metadata(dataset, "kind"))
    return RunResult(mode, mean(values, names), by_language, by_type, seconds, outcomes, by_kind)


def _metadata(dataset: BeirDataset, name: str) -> dict[str, str]:
    """Query id -> a metadata value (question language pair, question kind) where given."""
    found = ((q.query_id, q.metadata.get(name)) for q in dataset.queries)
    return {query_id: str(value) for query_id, value in found if value}


def _rankings(context: _Context, mode: Mode) -> tuple[list[ChunkRanking], float]:
    vectors = context.vectors() if needs_vectors(mode) else None
    found, across = context.translated() if translates(mode) else (None, None)
    # every mode is charged the one-time encoding and translation it uses
    began = time.perf_counter() - (context.encode_seconds if vectors is not None else 0.0)
    began -= context.translate_seconds if found is not None else 0.0
    rankings, _ = rank_many(context.snapshot, context.questions, vectors, mode, CHUNK_DEPTH,
                            context.allowed, reranker=context.reranker, found=found,
                            across=across)  # fmt: skip
    return rankings, time.perf_counter() - began


def _encode_queries(
    encoder: Encoder, questions: list[str], progress: ProgressFactory | None
) -> np.ndarray:
    def encode(batch: slice) -> np.ndarray:
        return encoder.encode_queries(questions[batch])

    return np.vstack(_in_batches("encoding queries", len(questions), progress, encode))


def _encode_across(
    encoder: Encoder,
    questions: list[str],
    found: list[list[Expansion] | None],
    plain: np.ndarray,
    progress: ProgressFactory | None,
) -> list[np.ndarray | None]:
    def encode(batch: slice) -> list[np.ndarray | None]:
        return across_vectors(encoder, questions[batch], found[batch], plain[batch])[1]

    return _in_batches("encoding translations", len(questions), progress, encode)


def _in_batches(
    label: str, count: int, progress: ProgressFactory | None, encode: Callable[[slice], Any]
) -> list[Any]:
    """`encode` over slices of 64 questions, with a progress bar."""
    bar = progress(label) if progress else None
    if bar:
        bar.start(count)
    encoded: list[Any] = []
    for start in range(0, count, 64):
        batch = slice(start, start + 64)
        encoded.extend(encode(batch))
        if bar:
            bar.advance(len(range(count)[batch]))
    return encoded


def _best_chunk_per_doc(ranking: ChunkRanking, doc_of: dict[int, str]) -> list[str]:
    docs = dict.fromkeys(doc_of[cid] for cid, _ in ranking if cid in doc_of)
    return list(docs)[:DOC_DEPTH]


def _outcome(dataset: BeirDataset, query: Query, ranked: list[str]) -> QueryOutcome:
    query_type = query.metadata.get("type")
    return QueryOutcome(
        query.query_id, detect_language(query.text), str(query_type) if query_type else None,
        first_relevant_rank(dataset.qrels[query.query_id], ranked), ranked[:TOP_IDS_IN_REPORT],
    )  # fmt: skip


def _grouped(
    values: dict[str, dict[str, float]], names: tuple[str, ...], group_of: dict[str, str]
) -> dict[str, dict[str, float]]:
    groups: dict[str, dict[str, dict[str, float]]] = {}
    for query_id, group in group_of.items():
        groups.setdefault(group, {})[query_id] = values[query_id]
    return {
        group: {"queries": len(members), **mean(members, names)}
        for group, members in sorted(groups.items())
    }
