from __future__ import annotations

from ingest.chunking.document import chunk_document
from ingest.chunking.units import ChunkingConfig
from retriever.records import Document
from tests.fakes import FakeEncoder

COUNT = FakeEncoder().count_tokens


def make_doc(pages: list[str], kind: str = "text") -> Document:
    return Document("d", "t", "d.txt", "/x/d.txt", "h", kind, tuple(pages))


def test_lines_are_never_split_and_chunks_fit_the_budget() -> None:
    lines = [f"line {i} " + "word " * (i % 7 + 1) for i in range(60)]
    doc = make_doc(["\n".join(lines)])
    config = ChunkingConfig(max_tokens=20, overlap_tokens=4)
    chunks = chunk_document(doc, COUNT, config)
    assert len(chunks) > 3
    for chunk in chunks:
        assert max(COUNT([chunk.text])) <= 20
        assert doc.text[chunk.char_start : chunk.char_end] == chunk.text
        for line in chunk.text.split("\n"):
            assert line.strip() in {ln.strip() for ln in lines}


def test_consecutive_chunks_overlap_and_cover_every_line() -> None:
    lines = [f"line {i} tighten bolt" for i in range(40)]
    doc = make_doc(["\n".join(lines)])
    chunks = chunk_document(doc, COUNT, ChunkingConfig(max_tokens=16, overlap_tokens=4))
    covered = "\n".join(c.text for c in chunks)
    assert all(line in covered for line in lines)
    assert any(chunks[i].char_end > chunks[i + 1].char_start for i in range(len(chunks) - 1))


def test_an_overlong_line_is_split_at_sentence_ends() -> None:
    sentences = [f"第{i}句確認模面沒有殘膠。" for i in range(30)]
    doc = make_doc(["".join(sentences)])
    chunks = chunk_document(doc, COUNT, ChunkingConfig(max_tokens=40, overlap_tokens=0))
    assert len(chunks) > 1
    assert all(c.text.endswith("。") for c in chunks)


def test_chunks_stay_within_a_pdf_page_and_cite_it() -> None:
    pages = ["alpha " * 10, "bravo " * 10, "charlie " * 10]
    doc = make_doc(pages, kind="pdf")
    chunks = chunk_document(doc, COUNT, ChunkingConfig(max_tokens=64, overlap_tokens=8))
    assert [c.page for c in chunks] == [1, 2, 3]
    assert "bravo" in chunks[1].text and "alpha" not in chunks[1].text


def test_markdown_headings_start_chunks_and_name_the_section() -> None:
    text = "# SOP\n\n## 1. Purpose\nkeep people safe\n\n## 2. Steps\n1. stop\n2. lock\n"
    doc = make_doc([text], kind="markdown")
    chunks = chunk_document(doc, COUNT, ChunkingConfig(max_tokens=64, overlap_tokens=8))
    by_section = {c.section: c.text for c in chunks}
    # a lone level-1 heading is the title, not a section
    assert by_section["2. Steps"].startswith("2. Steps")  # display text shows no "##"
    assert "keep people safe" in by_section["1. Purpose"]
    assert "lock" not in by_section["1. Purpose"]
