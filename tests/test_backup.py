"""`shifu backup` and `shifu restore`: a restored home answers exactly as the original; a
backup taken during an ingest restores to one whole generation; damage is detected."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from ingest.pipeline import ingest
from retriever.models.encoder import ProgressFn
from retriever.store import layout
from retriever.store.errors import StoreError
from retriever.store.index_store import IndexStore
from service import cli
from service.app import create_app
from service.audit import AUDIT_DB, Actor, AuditLog, Event
from service.auth import add_key, authenticate, read_key_file
from service.backup import BACKUP_MANIFEST, HOME, BackupError, backup, restore
from service.runtime import Runtime
from service.settings import Settings
from tests.fakes import FakeEncoder

QUESTIONS = ("lockout padlock tag", "射出成型毛邊", "forklift tip over")
runner = CliRunner()


def _answers(home: Path, settings: Settings | None = None) -> list[object]:
    runtime = Runtime(settings or Settings(home=home), encoder_factory=lambda _: FakeEncoder())
    found: list[object] = []
    for question in QUESTIONS:
        for mode in ("hybrid", "bm25", "dense"):
            result = runtime.query(question, 5, mode)
            found.append([(p.citation.label, round(p.score, 6)) for p in result.passages])
    with runtime.reading() as snapshot:
        found.append(sorted(row.key for row, _ in snapshot.documents_where({}, True, None)[1]))
    return found


@pytest.fixture
def home(tmp_path: Path, corpus_copy: Path) -> Path:
    home = tmp_path / "home"
    ingest([corpus_copy], IndexStore(home), FakeEncoder())
    AuditLog(home / AUDIT_DB).record([Event.by(Actor.local(), "upload", doc_id="X")])
    return home


def test_a_restored_home_answers_identically(home: Path, tmp_path: Path) -> None:
    key = add_key(home / "keys.yaml", "line3", "reader", ["molding"])
    backed = runner.invoke(cli.app, ["backup", str(tmp_path / "bk"), "--home", str(home)])
    assert backed.exit_code == 0, backed.output
    assert "backed up" in backed.stdout and "gen-000001" in backed.stdout
    restored = runner.invoke(cli.app, ["restore", str(tmp_path / "bk"), "--home",
                                       str(tmp_path / "new")])  # fmt: skip
    assert restored.exit_code == 0, restored.output
    new = tmp_path / "new"
    assert _answers(new) == _answers(home)
    assert authenticate(read_key_file(new / "keys.yaml"), key) is not None
    assert AuditLog(new / AUDIT_DB).events({}, None, (0, 10))[0] == 1
    again = runner.invoke(cli.app, ["restore", str(tmp_path / "bk"), "--home", str(new)])
    assert again.exit_code == 2 and "not empty" in again.output


class HeldEncoder(FakeEncoder):
    """Holds an ingest inside its embedding until released (its staging folder exists)."""

    def __init__(self) -> None:
        super().__init__()
        self.embedding, self.release = threading.Event(), threading.Event()

    def encode_passages(self, texts: Sequence[str], progress: ProgressFn | None = None
                        ) -> np.ndarray:  # fmt: skip
        self.embedding.set()
        assert self.release.wait(60), "the test never released the ingest"
        return super().encode_passages(texts, progress)


def test_a_backup_during_an_ingest_restores_to_one_generation(home: Path, tmp_path: Path) -> None:
    before = _answers(home)
    extra = tmp_path / "extra"
    extra.mkdir()
    (extra / "new-sop.md").write_text("1. Bleed the hydraulic line before opening it.\n")
    held = HeldEncoder()
    writer = threading.Thread(target=ingest, args=([extra], IndexStore(home), held))
    writer.start()
    try:
        assert held.embedding.wait(60), "the ingest did not start embedding"
        during = backup(Settings(home=home), tmp_path / "during")
    finally:
        held.release.set()
        writer.join(60)
    assert during.generation == "gen-000001"
    restore(tmp_path / "during", Settings(home=tmp_path / "restored"))
    index = layout.index_root(tmp_path / "restored")
    assert sorted(p.name for p in index.iterdir() if p.name.startswith("gen-")) == ["gen-000001"]
    assert not list(index.glob(".gen-*"))  # no staging folder of the running ingest
    assert _answers(tmp_path / "restored") == before
    after = backup(Settings(home=home), tmp_path / "after")  # the ingest's generation now
    assert after.generation == "gen-000002"


@pytest.mark.parametrize("damage", ["flip", "truncate", "delete"])
def test_a_damaged_backup_is_refused_before_anything_is_written(
    home: Path, tmp_path: Path, damage: str
) -> None:
    backup(Settings(home=home), tmp_path / "bk")
    vectors = tmp_path / "bk" / HOME / "index" / "gen-000001" / layout.RAW_VECTORS
    data = vectors.read_bytes()
    if damage == "flip":
        vectors.write_bytes(data[:100] + bytes([data[100] ^ 1]) + data[101:])
    elif damage == "truncate":
        vectors.write_bytes(data[:-1])
    else:
        vectors.unlink()
    with pytest.raises(BackupError, match=r"damaged: index/gen-000001/vectors\.faiss"):
        restore(tmp_path / "bk", Settings(home=tmp_path / "new"))
    assert not (tmp_path / "new").exists()
    (tmp_path / "bk" / BACKUP_MANIFEST).unlink()
    with pytest.raises(BackupError, match="not a Shifu backup"):
        restore(tmp_path / "bk", Settings(home=tmp_path / "new"))


def _milvus(home: Path, database: Path) -> Settings:
    return Settings(home=home, store="milvus", milvus_uri=str(database), milvus_collection="plant")


def test_a_milvus_home_is_backed_up_with_its_vectors_and_restored_into_a_new_milvus(
    tmp_path: Path, corpus_copy: Path
) -> None:
    old = _milvus(tmp_path / "home", tmp_path / "old.db")
    ingest([corpus_copy], IndexStore(old.home, old.vector_backend()), FakeEncoder())
    before = _answers(old.home, old)
    taken = backup(old, tmp_path / "bk")
    assert taken.generation == "gen-000001"
    assert (tmp_path / "bk" / HOME / "index" / layout.MILVUS_EXPORT).is_file()
    new = _milvus(tmp_path / "new", tmp_path / "new.db")  # another Milvus
    restore(tmp_path / "bk", new)
    assert _answers(new.home, new) == before
    with pytest.raises(StoreError, match="already holds vectors"):  # that Milvus again
        restore(tmp_path / "bk", _milvus(tmp_path / "third", tmp_path / "new.db"))
    assert not (tmp_path / "third").exists()


def test_uploads_restored_elsewhere_can_be_fetched_and_updated(tmp_path: Path) -> None:
    def editor(home: Path) -> TestClient:
        key = add_key(home / "keys.yaml", f"editor-{home.name}", "editor", [])
        app = create_app(Settings(home=home), encoder_factory=lambda _: FakeEncoder())
        return TestClient(app, headers={"Authorization": f"Bearer {key}"})

    upload = [("files", ("note.md", b"1. First step.\n"))]
    assert editor(tmp_path / "old").post("/v1/documents", files=upload).status_code == 200
    backup(Settings(home=tmp_path / "old"), tmp_path / "bk")
    shutil.rmtree(tmp_path / "old")  # the old machine is gone
    restore(tmp_path / "bk", Settings(home=tmp_path / "new"))
    client = editor(tmp_path / "new")
    assert client.get("/v1/documents/note/file").content == b"1. First step.\n"
    changed = [("files", ("note.md", b"1. First step.\n2. Second step.\n"))]
    response = client.post("/v1/documents", files=changed)
    assert response.status_code == 200 and response.json()["files"][0]["status"] == "updated"
