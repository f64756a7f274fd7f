"""Real PDFs: page counts and page-exact citations (skips when ../shared is absent)."""

from __future__ import annotations

import functools
import re

import pytest

from ingest.loaders.files import SourceFile, load_document
from ingest.pipeline import ingest
from retriever.ranking.search import search
from retriever.store.index_store import IndexStore
from tests.conftest import require_osha
from tests.fakes import FakeEncoder

PAGES = {
    "osha3120.pdf": 45,
    "osha3071.pdf": 50,
    "osha3138.pdf": 22,
    "factsheet-lockout-tagout.pdf": 2,
    "lockout-tagout-spanish.pdf": 2,
}


@pytest.fixture(scope="module")
def osha_index(tmp_path_factory: pytest.TempPathFactory) -> tuple[IndexStore, FakeEncoder]:
    store, encoder = IndexStore(tmp_path_factory.mktemp("home")), FakeEncoder()
    summary = ingest([require_osha()], store, encoder)
    assert (summary.added, summary.failed, summary.pages) == (5, 0, sum(PAGES.values()))
    return store, encoder


@pytest.mark.parametrize(("name", "pages"), sorted(PAGES.items()))
def test_page_count(name: str, pages: int) -> None:
    path = require_osha() / name
    doc = load_document(SourceFile(path, path.parent), path.read_bytes(), name).document
    assert len(doc.pages) == pages


@functools.cache
def _pages(name: str) -> tuple[str, ...]:
    path = require_osha() / name
    doc = load_document(SourceFile(path, path.parent), path.read_bytes(), name).document
    return tuple(" ".join(page.split()) for page in doc.pages)


def _sentence_on(name: str, page: int) -> str:
    """A sentence found on this page and nowhere else (OSHA repeats boilerplate across files)."""
    text = _pages(name)[page - 1]
    elsewhere = [p for n in PAGES for i, p in enumerate(_pages(n)) if (n, i) != (name, page - 1)]
    candidates = [
        s
        for s in re.split(r"(?<=[.!?])\s+", text)
        if 12 <= len(s.split()) <= 40 and not _quoted_in(s, elsewhere)
    ]
    assert candidates, f"no unique sentence found on {name} p. {page}"
    return max(candidates, key=lambda s: len(set(s.lower().split())))


def _quoted_in(sentence: str, texts: list[str]) -> bool:
    words = sentence.split()
    shingles = [" ".join(words[i : i + 5]) for i in range(len(words) - 4)]
    return any(shingle in text for text in texts for shingle in shingles)


@pytest.mark.parametrize(
    ("name", "page"),
    [
        ("osha3120.pdf", 7),
        ("osha3120.pdf", 23),
        ("osha3071.pdf", 12),
        ("osha3138.pdf", 5),
        ("factsheet-lockout-tagout.pdf", 2),
    ],
)
def test_a_quoted_sentence_cites_its_page(
    osha_index: tuple[IndexStore, FakeEncoder], name: str, page: int
) -> None:
    store, encoder = osha_index
    sentence = _sentence_on(name, page)
    snapshot = store.snapshot()
    assert snapshot is not None
    words = sentence.split()
    windows = [" ".join(words[i : i + 6]) for i in range(len(words) - 5)]
    quoting = [
        hit
        for hit in search(snapshot, encoder, sentence, k=10, filters={"source": [name]}).passages
        if any(w in " ".join(hit.text.split()) for w in windows)
    ]
    assert quoting, "a passage quoting the sentence must be among the top 10"
    for hit in quoting:
        assert hit.citation.source == name
        assert hit.citation.page == page
        assert hit.citation.label.startswith(name.removesuffix(".pdf"))
        assert hit.citation.label.endswith(f"(p. {page})")


def test_citation_offsets_point_into_the_document_text(
    osha_index: tuple[IndexStore, FakeEncoder],
) -> None:
    store, encoder = osha_index
    snapshot = store.snapshot()
    assert snapshot is not None
    path = require_osha() / "osha3120.pdf"
    doc = load_document(SourceFile(path, path.parent), path.read_bytes(), "osha3120.pdf").document
    for hit in search(snapshot, encoder, "energy isolating device lockout", k=5).passages:
        if hit.citation.source == "osha3120.pdf":
            assert doc.text[hit.citation.char_start : hit.citation.char_end] == hit.text


@pytest.mark.parametrize(
    ("question", "page", "step"),
    [
        ("Apply the lockout or tagout device(s) to the energy-isolating device(s)", 14, "4"),
        ("Verify the isolation and deenergization of the machine", 14, "6"),
        ("Clear employees from the area around the machines", 21, "2"),
    ],
)
def test_osha_3120_procedures_are_cited_by_step(
    osha_index: tuple[IndexStore, FakeEncoder], question: str, page: int, step: str
) -> None:
    store, encoder = osha_index
    snapshot = store.snapshot()
    assert snapshot is not None
    hits = search(snapshot, encoder, question, k=1, filters={"source": ["osha3120.pdf"]})
    citation = hits.passages[0].citation
    assert (citation.page, citation.step) == (page, step)
    assert citation.label == f"osha3120 step {step} (p. {page})"
