from __future__ import annotations

import os
import shutil
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ingest.loaders.files import SourceFile, load_document
from ingest.pipeline import ingest
from retriever.records import Document
from retriever.store.index_store import IndexStore
from retriever.store.snapshot import Snapshot
from service.app import create_app
from service.auth import add_key
from service.settings import Settings
from tests.fakes import FakeEncoder
from tests.milvus_server import milvus_server

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
EVALDATA = SHARED / "evaldata"
OSHA = EVALDATA / "osha-pdfs"
SAMPLE_FILES = 17  # in corpus/: SOPs, a second revision, interviews, a scan, a sheet, a deck,
# the glossary


@pytest.fixture(autouse=True, scope="session")
def no_rate_limits() -> Iterator[None]:
    """Tests send requests as fast as a machine allows, which is not what they are about;
    tests/test_ratelimit.py sets its own budgets (arguments win over the environment).
    Servers the tests start in subprocesses inherit this."""
    with pytest.MonkeyPatch.context() as patch:
        for route_class in ("QUERY", "UPLOAD", "ADMIN"):
            patch.setenv(f"SHIFU_RATE_{route_class}", "0")
        yield


@pytest.fixture(autouse=True, scope="session")
def ocr_once_per_session() -> Iterator[None]:
    """Many tests ingest the sample corpus into a fresh home, whose OCR cache starts empty:
    the real OCR reads each distinct page once per session, not once per home."""
    from ingest.loaders import ocr

    real = ocr._recognise
    seen: dict[str, Any] = {}

    def remembered(image: Any) -> Any:
        key = ocr._pixel_hash(image)
        if key not in seen:
            seen[key] = real(image)
        return seen[key]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ocr, "_recognise", remembered)
        yield


def live(store: IndexStore) -> Snapshot:
    """The store's live generation (a test that ingested something has one)."""
    snapshot = store.snapshot()
    assert snapshot is not None
    return snapshot


def load_file(path: Path) -> Document:
    """A file as ingest reads it, its name as its key."""
    return load_document(SourceFile(path, path.parent), path.read_bytes(), path.name).document


def png_header(width: int, height: int) -> bytes:
    """A PNG that claims width × height pixels: the header alone, which is all a bomb needs."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    body = struct.pack(">I", len(ihdr)) + chunk + struct.pack(">I", zlib.crc32(chunk))
    idat = zlib.compress(b"\x00" * 64)
    idat_chunk = b"IDAT" + idat
    body += struct.pack(">I", len(idat)) + idat_chunk + struct.pack(">I", zlib.crc32(idat_chunk))
    return b"\x89PNG\r\n\x1a\n" + body


def require_osha() -> Path:
    if not OSHA.is_dir():
        pytest.skip(f"shared OSHA PDFs not found at {OSHA} (clone with ../shared beside it)")
    return OSHA


@pytest.fixture
def fake_encoder() -> FakeEncoder:
    return FakeEncoder()


@pytest.fixture
def corpus_copy(tmp_path: Path) -> Path:
    """A writable copy of the sample corpus, so tests can edit and delete files."""
    target = tmp_path / "corpus"
    shutil.copytree(REPO / "corpus", target)
    return target


@pytest.fixture
def api_keys(tmp_path: Path) -> dict[str, str]:
    """One key per role (and a reader of the molding group), in HOME/keys.yaml."""
    path = tmp_path / "home" / "keys.yaml"
    return {
        "reader": add_key(path, "reader", "reader", []),
        "molding": add_key(path, "molding-reader", "reader", ["molding"]),
        "editor": add_key(path, "editor", "editor", []),
        "admin": add_key(path, "admin", "admin", []),
    }


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def client(tmp_path: Path, corpus_copy: Path, api_keys: dict[str, str]) -> TestClient:
    """The HTTP app over the sample corpus, indexed with the fake encoder; calls carry a
    reader's key unless a test sends another."""
    encoder = FakeEncoder()
    ingest([corpus_copy], IndexStore(tmp_path / "home"), encoder)
    app = create_app(Settings(home=tmp_path / "home"), encoder_factory=lambda _: encoder)
    return TestClient(app, raise_server_exceptions=False, headers=bearer(api_keys["reader"]))


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the real default model is built once per test session (or SHIFU_TEST_MODELS)."""
    configured = os.environ.get("SHIFU_TEST_MODELS")
    return Path(configured) if configured else tmp_path_factory.mktemp("models")


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One real Milvus server for the session (started on first use)."""
    with milvus_server(tmp_path_factory.mktemp("milvus-server")) as started:
        yield started
