"""The query path's caches give what an uncached read gives."""

from __future__ import annotations

from pathlib import Path

import pytest

from retriever.bm25.index import SparseIndex
from retriever.ranking import highlight
from retriever.ranking.highlight import best_sentences
from retriever.records import Chunk, Document
from retriever.store import metadata
from retriever.store.metadata import MetadataDB


def _database(folder: Path, count: int) -> Path:
    path = folder / "meta.sqlite"
    db = MetadataDB(path)
    doc = Document("d1", "Doc", "d1.txt", "/x/d1.txt", "h", "text", ("text",))
    db.put_document(doc, 0.0)
    texts = [f"Step {i}: tighten bolt number {i} to 5 N·m." for i in range(count)]
    chunks = [Chunk("d1", i, t, 0, len(t), chunk_id=i + 1) for i, t in enumerate(texts)]
    db.put_chunks(chunks, [f"h{i}" for i in range(count)])
    db.commit()
    db.close()
    return path


def test_cached_chunk_rows_equal_fresh_reads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _database(tmp_path, 12)
    monkeypatch.setattr(metadata, "CACHED_ROWS", 5)  # forces the cache to be emptied
    cached = MetadataDB(path, read_only=True)
    for ids in ([1, 2, 3], [2, 3, 4, 5], [6, 1, 99], [7, 8, 9, 10, 11], [1, 12, 3]):
        fresh = MetadataDB(path, read_only=True)._read_chunk_rows(ids)
        assert cached.chunk_rows(ids) == fresh
    assert 99 not in cached.chunk_rows([99])
    kept = cached.chunk_rows([4, 5])
    again = cached.chunk_rows([5, 4])
    assert all(again[i] is kept[i] for i in (4, 5)), "a repeated read comes from the cache"


def test_sparse_mask_follows_the_allowed_list() -> None:
    index = SparseIndex.build([(10, ["bolt"]), (20, ["bolt", "nut"]), (30, ["bolt"])])
    everything = [cid for cid, _ in index.search("bolt", 3)]
    some = [20]
    assert [cid for cid, _ in index.search("bolt", 3, some)] == [20]
    mask = index._mask(some)
    assert index._mask(some) is mask, "the same allowed list keeps its mask"
    assert index._mask([20]) is not mask  # an equal but new list is not trusted to be the same
    assert [cid for cid, _ in index.search("bolt", 3, some)] == [20]  # the kept mask
    other = [10, 30, 40]  # an id outside the index selects nothing
    assert sorted(cid for cid, _ in index.search("bolt", 3, other)) == [10, 30]
    assert sorted(cid for cid, _ in index.search("bolt", 3, None)) == sorted(everything)


def test_highlights_are_the_same_when_asked_again() -> None:
    texts = ["Open the valve. Then tighten the bolt.", "Check the pressure. Wipe the lens."]
    first = best_sentences(texts, "tighten the bolt", None, None)
    assert first[0] == (16, 38)
    hits = highlight._trimmed_spans.cache_info().hits
    assert best_sentences(texts, "tighten the bolt", None, None) == first
    assert highlight._trimmed_spans.cache_info().hits == hits + len(texts), "spans are kept"
    assert highlight._trimmed_spans(texts[0]) == highlight._trimmed_spans.__wrapped__(texts[0])
    assert best_sentences(texts, "wipe the lens", None, None)[1] == (20, 34)
