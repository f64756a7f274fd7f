"""Crash safety of `shifu migrate --to milvus`: it takes the writer lock and publishes its
generation through the same steps as an ingest (retriever/store/layout.py), so a SIGKILL at any
of its crash points leaves a live generation that opens with the same content (FAISS before
CURRENT switches, Milvus after), and a re-run completes the move, with nothing left behind."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from ingest.pipeline import ingest
from retriever.ranking.search import search
from retriever.store.backend import VectorBackend
from retriever.store.errors import StoreError
from retriever.store.faults import ENV as CRASH_ENV
from retriever.store.index_store import IndexStore
from retriever.store.milvus.backend import MilvusBackend
from retriever.store.milvus.collection import MilvusTarget
from retriever.store.milvus.migrate import migrate_to_milvus
from tests.conftest import REPO
from tests.fakes import FakeEncoder

pytest.importorskip("milvus_lite")

# every crash point a migration passes, in order; CURRENT names the Milvus generation from
# commit:current on
POINTS = ("migrate:copied", "commit:manifest", "commit:fsynced", "commit:renamed",
          "commit:current", "commit:pruned")  # fmt: skip
SWITCHED = frozenset({"commit:current", "commit:pruned"})
COLLECTION = "moved"
PROBES = ("lockout steps before clearing a jam", "射出成型毛邊怎麼調", "forklift inspection")
KILLED_MIGRATE = f"""
import sys
from pathlib import Path

from retriever.store.milvus.backend import MilvusBackend
from retriever.store.milvus.collection import MilvusTarget
from retriever.store.milvus.migrate import migrate_to_milvus

migrate_to_milvus(Path(sys.argv[1]), MilvusBackend(MilvusTarget(sys.argv[2], "{COLLECTION}")))
"""

State = tuple[int, tuple[tuple[str, str], ...], tuple[tuple[int, ...], ...]]


def state(home: Path, backend: VectorBackend | None = None) -> State:
    """Chunk count, documents and the dense hits of the probes: what a reader sees."""
    snapshot = IndexStore(home, backend).snapshot()
    assert snapshot is not None, "the index must open"
    try:
        documents = tuple(sorted((d.source, d.content_hash) for d in snapshot.documents()))
        hits = tuple(
            tuple(p.chunk_id for p in search(snapshot, FakeEncoder(), q, 5, "dense").passages)
            for q in PROBES
        )
        return snapshot.manifest.count, documents, hits
    finally:
        snapshot.close()


@pytest.fixture(scope="module")
def faiss_home(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, State]:
    """A FAISS home of two generations (so publishing the Milvus one really prunes)."""
    root = tmp_path_factory.mktemp("faiss-home")
    corpus, home = root / "corpus", root / "home"
    shutil.copytree(REPO / "corpus" / "sop", corpus / "sop")
    ingest([corpus], IndexStore(home), FakeEncoder())
    shutil.copytree(REPO / "corpus" / "interviews", corpus / "interviews")
    assert ingest([corpus], IndexStore(home), FakeEncoder()).generation == 2
    return home, state(home)


def run_killed_migrate(home: Path, uri: Path, point: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO), CRASH_ENV: f"{point}:1"}
    done = subprocess.run(
        [sys.executable, "-c", KILLED_MIGRATE, str(home), str(uri)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == -signal.SIGKILL, (
        f"the migration was not killed at {point} (exit status {done.returncode}); "
        f"is the crash point still there?\n{done.stderr}"
    )


@pytest.mark.parametrize("point", POINTS)
def test_killed_migration_keeps_the_index_and_reruns(
    tmp_path: Path, faiss_home: tuple[Path, State], point: str
) -> None:
    home, before = tmp_path / "home", faiss_home[1]
    shutil.copytree(faiss_home[0], home)
    uri = tmp_path / "milvus.db"

    run_killed_migrate(home, uri, point)

    milvus = MilvusBackend(MilvusTarget(str(uri), COLLECTION))
    if point in SWITCHED:
        assert state(home, milvus) == before
        with pytest.raises(StoreError, match="already keeps its vectors in milvus"):
            migrate_to_milvus(home, milvus)
    else:
        assert state(home) == before  # still the FAISS generation, untouched
        assert migrate_to_milvus(home, milvus) == before[0]
    assert state(home, milvus) == before
    root = IndexStore(home).root
    assert sorted(p.name for p in root.glob("gen-*"))[-2:] == ["gen-000002", "gen-000003"]
    assert list(root.glob(".*.tmp-*")) == []
    IndexStore(home, milvus).check_writer_free()
