"""What only a real server can show: the index survives the server's restart."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ingest.pipeline import ingest
from retriever.ranking.search import search
from retriever.store.index_store import IndexStore
from retriever.store.milvus.backend import MilvusBackend
from retriever.store.milvus.collection import MilvusTarget
from tests.fakes import FakeEncoder
from tests.milvus_server import server_uri

pytestmark = pytest.mark.milvus_server


def test_an_index_survives_a_server_restart(server: Any, tmp_path: Path, corpus_copy: Path) -> None:
    encoder, question = FakeEncoder(), "lockout steps before clearing a jam"
    target = MilvusTarget(server_uri(server), "restart")
    store = IndexStore(tmp_path / "home", MilvusBackend(target))
    ingest([corpus_copy], store, encoder)
    snapshot = store.snapshot()
    assert snapshot is not None
    before = [p.chunk_id for p in search(snapshot, encoder, question, k=5).passages]
    server.stop()
    server.start()  # it may come back on another port when the old one is still held
    target = MilvusTarget(server_uri(server), "restart")
    reopened = IndexStore(tmp_path / "home", MilvusBackend(target)).snapshot()
    assert reopened is not None
    after = [p.chunk_id for p in search(reopened, encoder, question, k=5).passages]
    assert after == before and len(after) == 5
