from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ingest.pipeline import ingest
from retriever.ranking.search import search
from retriever.store.errors import ModelMismatchError, WriterBusyError
from retriever.store.index_store import IndexStore
from tests.conftest import SAMPLE_FILES
from tests.fakes import FakeEncoder


def doc_sources(store: IndexStore) -> set[str]:
    snapshot = store.snapshot()
    assert snapshot is not None
    return {d.source for d in snapshot.documents()}


def test_first_ingest_adds_every_file(tmp_path: Path, corpus_copy: Path) -> None:
    store, encoder = IndexStore(tmp_path / "home"), FakeEncoder()
    summary = ingest([corpus_copy], store, encoder)
    assert (summary.added, summary.failed) == (SAMPLE_FILES, 0)
    assert summary.chunks == summary.embedded == len(encoder.embedded) > 4
    manifest = store.manifest()
    assert manifest is not None
    assert (manifest.model, manifest.dim, manifest.count) == (
        "fake-hash-1024",
        1024,
        summary.chunks,
    )
    assert "sop/SOP-MT-001_lockout-tagout.md" in doc_sources(store)


def test_unchanged_folder_embeds_nothing_and_keeps_the_generation(
    tmp_path: Path, corpus_copy: Path
) -> None:
    store = IndexStore(tmp_path / "home")
    ingest([corpus_copy], store, FakeEncoder())
    before = store.current_generation()
    again = FakeEncoder()
    summary = ingest([corpus_copy], store, again)
    assert (summary.unchanged, summary.added, summary.updated) == (SAMPLE_FILES, 0, 0)
    assert again.embedded == []
    assert store.current_generation() == before


def test_editing_one_file_re_embeds_only_that_file(tmp_path: Path, corpus_copy: Path) -> None:
    store = IndexStore(tmp_path / "home")
    ingest([corpus_copy], store, FakeEncoder())
    edited = corpus_copy / "sop" / "SOP-QC-021_torque-check.txt"
    edited.write_text(edited.read_text() + "\n7) 新增步驟：每週校正扭力計 calibrate weekly.\n")
    encoder = FakeEncoder()
    summary = ingest([corpus_copy], store, encoder)
    assert (summary.updated, summary.unchanged) == (1, SAMPLE_FILES - 1)
    assert encoder.embedded, "the changed chunk must be embedded"
    assert all("calibrate weekly" in text for text in encoder.embedded)
    snapshot = store.snapshot()
    assert snapshot is not None
    hits = search(snapshot, encoder, "calibrate weekly 每週校正扭力計", k=1).passages
    assert hits[0].citation.source == "sop/SOP-QC-021_torque-check.txt"
    assert "calibrate weekly" in hits[0].text


def test_prune_drops_a_deleted_files_passages(tmp_path: Path, corpus_copy: Path) -> None:
    store, encoder = IndexStore(tmp_path / "home"), FakeEncoder()
    ingest([corpus_copy], store, encoder)
    (corpus_copy / "sop" / "SOP-MT-001_lockout-tagout.md").unlink()
    kept = ingest([corpus_copy], store, encoder)
    assert kept.removed == 0 and "sop/SOP-MT-001_lockout-tagout.md" in doc_sources(store)
    pruned = ingest([corpus_copy], store, encoder, prune=True)
    assert pruned.removed == 1
    assert "sop/SOP-MT-001_lockout-tagout.md" not in doc_sources(store)
    snapshot = store.snapshot()
    assert snapshot is not None
    hits = search(snapshot, encoder, "padlock danger tag main disconnect", k=10).passages
    assert all("lockout" not in h.citation.source for h in hits)


def test_removing_the_only_files_leaves_an_empty_searchable_index(tmp_path: Path) -> None:
    folder, store, encoder = tmp_path / "docs", IndexStore(tmp_path / "home"), FakeEncoder()
    folder.mkdir()
    note = folder / "note.md"
    note.write_text("# Note\n\nLockout the dryer first.\n")
    ingest([folder], store, encoder)
    note.unlink()
    emptied = ingest([folder], store, encoder, gone=[note.resolve()])  # as a watched share does
    assert emptied.removed == 1 and emptied.generation is not None
    snapshot = store.snapshot()
    assert snapshot is not None
    for mode in ("bm25", "dense", "hybrid"):
        assert search(snapshot, encoder, "lockout dryer", k=5, mode=mode).passages == []


def test_bad_files_are_reported_and_the_rest_kept(tmp_path: Path, corpus_copy: Path) -> None:
    (corpus_copy / "broken.pdf").write_bytes(b"%PDF-1.4\n1 0 obj<<>>endobj\ngarbage")
    (corpus_copy / "empty.md").write_bytes(b"")
    (corpus_copy / "blob.txt").write_bytes(b"\x00\x01\x02binary")
    store = IndexStore(tmp_path / "home")
    summary = ingest([corpus_copy, tmp_path / "missing.md"], store, FakeEncoder())
    reasons = {Path(f["path"]).name: f["reason"] for f in summary.failures}
    assert set(reasons) == {"broken.pdf", "empty.md", "blob.txt", "missing.md"}
    assert "PDF" in reasons["broken.pdf"] and "empty" in reasons["empty.md"]
    assert "binary" in reasons["blob.txt"] and "no such" in reasons["missing.md"]
    assert (summary.added, summary.failed) == (SAMPLE_FILES, 4)
    assert len(doc_sources(store)) == SAMPLE_FILES


def test_a_crash_mid_ingest_leaves_the_previous_index(tmp_path: Path, corpus_copy: Path) -> None:
    store = IndexStore(tmp_path / "home")
    ingest([corpus_copy], store, FakeEncoder())
    before = store.manifest()

    class Exploding(FakeEncoder):
        def encode_passages(self, texts, progress=None):  # type: ignore[no-untyped-def]
            raise KeyboardInterrupt

    (corpus_copy / "new.md").write_text("# New\nfresh content\n")
    with pytest.raises(KeyboardInterrupt):
        ingest([corpus_copy], store, Exploding())
    assert store.manifest() == before
    assert not list((tmp_path / "home" / "index").glob(".gen-*"))
    summary = ingest([corpus_copy], store, FakeEncoder())
    assert summary.added == 1 and "new.md" in doc_sources(store)


def test_a_second_writer_gets_a_clear_error(tmp_path: Path, corpus_copy: Path) -> None:
    store = IndexStore(tmp_path / "home")
    with (
        store.writer("fake-hash-1024", 1024),
        pytest.raises(WriterBusyError, match="another ingest"),
    ):
        ingest([corpus_copy], store, FakeEncoder())


def test_another_model_cannot_write_or_read_the_index(tmp_path: Path, corpus_copy: Path) -> None:
    store = IndexStore(tmp_path / "home")
    ingest([corpus_copy], store, FakeEncoder())

    class OtherModel(FakeEncoder):
        name = "other-model"

    with pytest.raises(ModelMismatchError, match="fake-hash-1024"):
        ingest([corpus_copy], store, OtherModel())
    snapshot = store.snapshot()
    assert snapshot is not None
    with pytest.raises(ModelMismatchError):
        search(snapshot, OtherModel(), "lockout", k=3)


def test_an_encrypted_pdf_is_reported_as_such(tmp_path: Path) -> None:
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(width=200, height=200)
    writer.encrypt(user_password="secret", algorithm="RC4-128")
    folder = tmp_path / "docs"
    folder.mkdir()
    with (folder / "locked.pdf").open("wb") as handle:
        writer.write(handle)
    (folder / "ok.md").write_text("# OK\nreadable text\n")
    summary = ingest([folder], IndexStore(tmp_path / "home"), FakeEncoder())
    assert (summary.added, summary.failed) == (1, 1)
    assert summary.failures[0]["reason"] == "encrypted PDF (password required)"


def test_the_next_files_load_while_the_model_embeds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reading, parsing and OCR of later files overlap embedding; nothing is embedded twice."""
    import threading
    import time

    from ingest import pipeline

    folder = tmp_path / "docs"
    folder.mkdir()
    for n in range(8):
        (folder / f"sop-{n}.md").write_text(f"# SOP {n}\n\n1. 步驟 {n} 關閉閥門。\n", "utf-8")
    embedding = threading.Event()
    loaded_during_embedding: list[str] = []
    real_load = pipeline.load_document

    def load(file: Any, *args: Any) -> Any:
        loaded = real_load(file, *args)
        time.sleep(0.1)  # a file that takes a while to read, as a scan does
        if embedding.is_set():  # checked as the load ends: wide margins on a busy machine
            loaded_during_embedding.append(file.path.name)
        return loaded

    class SlowEncoder(FakeEncoder):
        def encode_passages(self, texts: Any, progress: Any = None) -> Any:
            embedding.set()
            time.sleep(0.3)  # long enough for the loader thread to read the next file
            embedding.clear()
            return super().encode_passages(texts, progress)

    monkeypatch.setattr(pipeline, "load_document", load)
    monkeypatch.setattr(pipeline, "EMBED_GROUP_CHUNKS", 1)
    encoder = SlowEncoder()
    summary = ingest([folder], IndexStore(tmp_path / "home"), encoder)
    assert summary.added == 8 and loaded_during_embedding
    assert len(encoder.embedded) == len(set(encoder.embedded)) == summary.chunks
    assert summary.embedded == summary.chunks  # counted over every group, not the last


def test_a_format_5_home_is_read_and_its_next_generation_gains_the_new_columns(
    tmp_path: Path,
) -> None:
    """Homes written before OCR and sheet rows (format 5) keep working without a re-ingest."""
    import json
    import sqlite3

    from retriever.store import layout

    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "a.md").write_text("# A\n\n1. 關閉主電源開關。\n", encoding="utf-8")
    store = IndexStore(tmp_path / "home")
    ingest([folder], store, FakeEncoder())
    live = store.root / str(layout.live_name(store.root))
    with sqlite3.connect(live / layout.METADATA) as db:  # as format 5 wrote it
        db.execute("ALTER TABLE chunks DROP COLUMN ocr_confidence")
        db.execute("ALTER TABLE chunks DROP COLUMN rows")
    manifest = json.loads((live / layout.MANIFEST).read_text())
    (live / layout.MANIFEST).write_text(json.dumps({**manifest, "format_version": 5}))
    old = IndexStore(tmp_path / "home").snapshot()
    assert old is not None
    passage = search(old, FakeEncoder(), "關閉主電源", k=1).passages[0]
    assert passage.citation.rows is None and not passage.citation.ocr
    (folder / "b.md").write_text("# B\n\n1. 打開冷卻水閥。\n", encoding="utf-8")
    assert ingest([folder], IndexStore(tmp_path / "home"), FakeEncoder()).added == 1
    new = IndexStore(tmp_path / "home").snapshot()
    assert new is not None and new.manifest.format_version == 6
    assert len(search(new, FakeEncoder(), "冷卻水閥", k=2).passages) == 2
