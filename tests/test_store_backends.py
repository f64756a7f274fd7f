"""One contract, two vector backends: FAISS in the home (exact, and HNSW as in a large home), and
Milvus (Lite here; the server in test_milvus_server.py). Milvus Lite's filtered HNSW may return
fewer hits than asked, so these tests assert what is found and what is never found, not exact
counts of hits."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from ingest.chunking.units import ChunkingConfig
from ingest.pipeline import ingest
from ingest.removal import remove_documents
from retriever.ranking.search import search
from retriever.store.backend import VectorBackend
from retriever.store.errors import StoreError
from retriever.store.faiss_backend import FaissBackend
from retriever.store.index_store import IndexStore, StoreWriter
from retriever.store.layout import MIGRATE_CHECKPOINT
from retriever.store.milvus import migrate
from retriever.store.milvus.backend import MilvusBackend
from retriever.store.milvus.collection import MilvusTarget
from retriever.store.milvus.migrate import migrate_to_milvus
from retriever.store.snapshot import GenerationSnapshot
from service.evaluation import evaluate
from tests.fakes import FakeEncoder
from tests.milvus_server import server_uri
from tests.test_eval import write_dataset

pytest.importorskip("milvus_lite")
FRONT = "---\ndoc_id: SOP-IM-012\nrevision: {rev}\ndoc_type: sop\n{extra}---\n"


@pytest.fixture(
    params=["faiss", "faiss-hnsw", "milvus-lite",
            pytest.param("milvus-server", marks=pytest.mark.milvus_server)]
)  # fmt: skip
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[VectorBackend]:
    if request.param.startswith("faiss"):  # HNSW: the approximate index of a large home
        yield FaissBackend("hnsw" if request.param == "faiss-hnsw" else "flat")
        return
    if request.param == "milvus-server":
        uri = server_uri(request.getfixturevalue("server"))
        milvus = MilvusBackend(MilvusTarget(uri, f"contract_{uuid.uuid4().hex}"))
    else:
        milvus = MilvusBackend(MilvusTarget(str(tmp_path / "milvus.db"), "contract"))
    yield milvus
    if milvus._collection is not None:
        if request.param == "milvus-server":
            milvus._collection.drop()
        milvus._collection.close()


def _snapshot(store: IndexStore) -> GenerationSnapshot:
    snapshot = store.snapshot()
    assert snapshot is not None
    return snapshot


def _write(folder: Path, name: str, rev: str, body: str, extra: str = "") -> None:
    (folder / name).write_text(FRONT.format(rev=rev, extra=extra) + body, encoding="utf-8")


def test_ingest_search_and_cited_passages(
    backend: VectorBackend, tmp_path: Path, corpus_copy: Path
) -> None:
    store, encoder = IndexStore(tmp_path / "home", backend), FakeEncoder()
    summary = ingest([corpus_copy], store, encoder)
    hits = search(_snapshot(store), encoder, "lockout steps before clearing a jam", k=3).passages
    assert hits[0].citation.label.startswith("SOP-MT-001")
    assert _snapshot(store).manifest.count == summary.chunks
    assert _snapshot(store).manifest.backend == backend.name


def test_incremental_ingest_replaces_and_skips(backend: VectorBackend, tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    _write(docs, "c.md", "C", "1. 降低射出壓力每次 5 bar。\n2. 檢查鎖模力。\n")
    store, encoder = IndexStore(tmp_path / "home", backend), FakeEncoder()
    ingest([docs], store, encoder)
    assert ingest([docs], store, encoder).unchanged == 1
    _write(docs, "c.md", "C", "1. 降低射出壓力每次 7 bar。\n2. 檢查鎖模力。\n")
    encoder.embedded.clear()
    assert ingest([docs], store, encoder).updated == 1
    assert len(encoder.embedded) == 1  # the unchanged step kept its stored vector
    texts = [p.text for p in search(_snapshot(store), encoder, "降低射出壓力", k=5).passages]
    assert any("7 bar" in t for t in texts) and not any("5 bar" in t for t in texts)


def test_filters_and_hostile_filter_values(
    backend: VectorBackend, tmp_path: Path, corpus_copy: Path
) -> None:
    store, encoder = IndexStore(tmp_path / "home", backend), FakeEncoder()
    ingest([corpus_copy], store, encoder)
    snapshot = _snapshot(store)
    hits = search(snapshot, encoder, "毛邊 鎖模力", k=10, filters={"doc_type": ["interview"]})
    assert hits.passages and all(p.citation.doc_type == "interview" for p in hits.passages)
    for hostile in ['sop"] or true or ["', "sop' || 1 == 1", "\\", "x) or (id > 0"]:
        assert not search(
            snapshot, encoder, "鎖模力", k=5, filters={"doc_type": [hostile]}
        ).passages


def test_access_groups_hide_documents(backend: VectorBackend, tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    _write(docs, "c.md", "C", "1. 模溫機設定 80 度。\n", extra="access: [molding]\n")
    (docs / "open.md").write_text("# Open\n\n1. 模溫機 點檢 每日。\n", encoding="utf-8")
    store, encoder = IndexStore(tmp_path / "home", backend), FakeEncoder()
    ingest([docs], store, encoder)
    snapshot = _snapshot(store)
    outsider = search(snapshot, encoder, "模溫機設定", k=5, groups=["welding"]).passages
    member = search(snapshot, encoder, "模溫機設定", k=5, groups=["molding"]).passages
    assert outsider and all(p.citation.doc_id != "SOP-IM-012" for p in outsider)
    assert any(p.citation.doc_id == "SOP-IM-012" for p in member)


def test_superseded_revisions_follow_every_change(backend: VectorBackend, tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    _write(docs, "c.md", "C", "1. 降低射出壓力每次 5 bar。\n")
    store, encoder = IndexStore(tmp_path / "home", backend), FakeEncoder()
    ingest([docs], store, encoder)
    _write(docs, "b.md", "B", "1. 降低射出壓力每次 10 bar。\n")
    ingest([docs], store, encoder)

    def revisions(include_superseded: bool = False) -> set[str | None]:
        hits = search(_snapshot(store), encoder, "降低射出壓力", k=5,
                      include_superseded=include_superseded).passages  # fmt: skip
        return {p.citation.revision for p in hits}

    assert revisions() == {"C"}
    assert revisions(include_superseded=True) == {"B", "C"}
    remove_documents(store, encoder, "SOP-IM-012", "C")  # B is the current revision again
    assert revisions() == {"B"}


def test_a_writer_that_never_commits_leaves_nothing_visible(
    backend: VectorBackend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    _write(docs, "c.md", "C", "1. 降低射出壓力每次 5 bar。\n")
    store, encoder = IndexStore(tmp_path / "home", backend), FakeEncoder()
    ingest([docs], store, encoder)
    _write(docs, "c.md", "C", "1. 清潔分模面 with 無塵布。\n")
    with monkeypatch.context() as patch:
        patch.setattr(StoreWriter, "commit", _crash)
        with pytest.raises(RuntimeError, match="crash"):
            ingest([docs], store, encoder)  # the new chunk reached Milvus, the commit did not

    texts = [p.text for p in search(_snapshot(store), encoder, "清潔分模面 無塵布", k=5).passages]
    assert texts == ["1. 降低射出壓力每次 5 bar。"]
    assert ingest([docs], store, encoder).updated == 1
    texts = [p.text for p in search(_snapshot(store), encoder, "清潔分模面 無塵布", k=5).passages]
    assert texts == ["1. 清潔分模面 with 無塵布。"]
    if isinstance(backend, MilvusBackend):  # the next writer removed what the crash left
        assert backend.collection(encoder.dim).count() == _snapshot(store).manifest.count


def _crash(self: StoreWriter) -> None:
    raise RuntimeError("crash before commit")


def test_a_home_never_writes_into_another_homes_collection(tmp_path: Path) -> None:
    target = MilvusTarget(str(tmp_path / "milvus.db"), "shared")
    milvus = MilvusBackend(target)
    docs = tmp_path / "docs"
    docs.mkdir()
    _write(docs, "c.md", "C", "1. 降低射出壓力。\n")
    ingest([docs], IndexStore(tmp_path / "one", milvus), FakeEncoder())
    with pytest.raises(StoreError, match="already holds vectors"):
        IndexStore(tmp_path / "two", milvus).writer(FakeEncoder.name, FakeEncoder.dim)


def test_a_home_opened_with_the_other_backend_is_a_clear_error(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    _write(docs, "c.md", "C", "1. 降低射出壓力。\n")
    ingest([docs], IndexStore(tmp_path / "home"), FakeEncoder())
    milvus = MilvusBackend(MilvusTarget(str(tmp_path / "milvus.db"), "other"))
    with pytest.raises(StoreError, match="SHIFU_STORE=faiss"):
        IndexStore(tmp_path / "home", milvus).snapshot()


def test_migrate_copies_vectors_without_embedding_and_resumes(
    tmp_path: Path, corpus_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home, encoder = tmp_path / "home", FakeEncoder()
    ingest([corpus_copy], IndexStore(home), encoder)
    question = "lockout steps before clearing a jam"
    before = search(_snapshot(IndexStore(home)), encoder, question, k=5, mode="dense").passages
    milvus = MilvusBackend(MilvusTarget(str(tmp_path / "milvus.db"), "moved"))
    monkeypatch.setattr(migrate, "BATCH", 25)
    with pytest.raises(KeyboardInterrupt):
        migrate_to_milvus(home, milvus, _interrupt_after(50))
    assert json.loads((home / "index" / MIGRATE_CHECKPOINT).read_text())["done_through"] > 0
    assert _snapshot(IndexStore(home)).manifest.backend == "faiss"  # nothing switched yet

    upserted: list[int] = []
    collection = milvus.collection(encoder.dim)
    real_upsert = collection.upsert

    def counting_upsert(rows: Sequence[dict[str, Any]]) -> None:
        upserted.extend(r["id"] for r in rows)
        real_upsert(rows)

    monkeypatch.setattr(collection, "upsert", counting_upsert)
    encoder.embedded.clear()
    seen: list[tuple[int, int]] = []
    count = migrate_to_milvus(home, milvus, lambda done, total: seen.append((done, total)))
    assert encoder.embedded == [] and seen[-1] == (count, count)
    assert len(upserted) == count - 50  # the rows before the interruption were not sent again
    assert collection.count() == count and not (home / "index" / MIGRATE_CHECKPOINT).exists()
    after = search(_snapshot(IndexStore(home, milvus)), encoder, question, k=5, mode="dense")
    assert [p.chunk_id for p in after.passages] == [p.chunk_id for p in before]
    with pytest.raises(StoreError, match="already keeps its vectors in milvus"):
        migrate_to_milvus(home, milvus)


def _interrupt_after(rows: int) -> Callable[[int, int], None]:
    def progress(done: int, total: int) -> None:
        if done >= rows:
            raise KeyboardInterrupt

    return progress


def test_identical_passages_rank_in_one_order_on_every_backend(
    backend: VectorBackend, tmp_path: Path
) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    for name in ("b.md", "a.md", "c.md"):  # same text, so their vectors tie exactly
        (docs / name).write_text("# Pump\n\n1. Check the pump seal daily.\n", encoding="utf-8")
    store, encoder = IndexStore(tmp_path / "home", backend), FakeEncoder()
    ingest([docs], store, encoder)
    snapshot = _snapshot(store)
    ranking = snapshot.dense_many(encoder.encode_queries(["pump seal"]), 10)[0]
    assert len({score for _, score in ranking}) == 1 and len(ranking) == 3
    assert [chunk_id for chunk_id, _ in ranking] == sorted(c for c, _ in ranking)


def test_eval_on_milvus_matches_faiss_without_re_embedding(tmp_path: Path) -> None:
    corpus = {f"d{i}": f"{topic} procedure step {i}" for i, topic in enumerate(
        ["lockout", "welding", "forklift", "boiler", "molding", "solder"])}  # fmt: skip
    queries = {"q1": "lockout procedure", "q2": "forklift procedure", "q3": "solder"}
    dataset = write_dataset(tmp_path / "set", corpus, queries,
                            [("q1", "d0", 1), ("q2", "d2", 1), ("q3", "d5", 1)])  # fmt: skip
    encoder, cache, config = FakeEncoder(), tmp_path / "cache", ChunkingConfig()
    targets: list[str] = []

    def lite(collection: str) -> VectorBackend:
        targets.append(collection)
        return MilvusBackend(MilvusTarget(str(tmp_path / "lite.db"), collection))

    def run(backend_for: Callable[[str], VectorBackend] | None) -> dict[str, float]:
        result = evaluate(dataset, ["dense", "hybrid"], encoder, cache, config,
                          backend_for=backend_for)  # fmt: skip
        return {f"{r.mode} {m}": v for r in result.runs for m, v in r.metrics.items()}

    on_faiss = run(None)
    encoder.embedded.clear()
    assert run(lite) == on_faiss and not encoder.embedded  # vectors copied, not embedded
    MilvusBackend(MilvusTarget(str(tmp_path / "lite.db"), targets[0])).collection(1024).drop()
    assert run(lite) == on_faiss and not encoder.embedded  # a lost collection is copied again


def test_a_bilingual_index_is_one_on_every_backend(backend: VectorBackend, tmp_path: Path) -> None:
    """Query translation switches on by the chunks' scripts, not by a FAISS-only file."""
    docs = tmp_path / "docs"
    docs.mkdir()
    english = "".join(f"{i}. Check the forklift item {i} first.\n\n" for i in range(1, 9))
    chinese = "".join(f"{i}. 焊接前檢查第 {i} 項。\n\n" for i in range(1, 9))
    (docs / "en.md").write_text("# Forklift\n\n" + english, encoding="utf-8")
    (docs / "zh.md").write_text("# 焊接\n\n" + chinese, encoding="utf-8")
    store = IndexStore(tmp_path / "home", backend)
    ingest([docs], store, FakeEncoder(), ChunkingConfig(max_tokens=16, overlap_tokens=0))
    assert _snapshot(store).bilingual()
    (docs / "zh.md").unlink()
    ingest([docs], store, FakeEncoder(), ChunkingConfig(max_tokens=16, overlap_tokens=0),
           prune=True)  # fmt: skip
    assert not _snapshot(store).bilingual()
