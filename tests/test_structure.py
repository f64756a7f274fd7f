"""SOP structure: numbering forms, headings, notes that stay with their step, citations."""

from __future__ import annotations

import pytest

from ingest.chunking.document import chunk_document
from ingest.chunking.structure import step_marker, to_arabic
from ingest.chunking.units import ChunkingConfig
from retriever.records import Citation, DocMeta, Document
from tests.fakes import FakeEncoder

COUNT = FakeEncoder().count_tokens


def doc(text: str, kind: str = "text", meta: DocMeta | None = None) -> Document:
    return Document("k", "Title", "x.txt", "/x.txt", "h", kind, (text,), meta or DocMeta())


@pytest.mark.parametrize(
    ("line", "number"),
    [
        ("1. 確認毛邊位置", "1"),
        ("2、檢查模面", "2"),
        ("4.2 Check the parting line", "4.2"),
        ("3) 連續鎖附 5 次", "3"),
        ("(4) Apply the lockout device", "4"),
        ("（5）釋放殘壓", "5"),
        ("③ 檢查 profile board", "3"),
        ("Step 7: open the main steam valve", "7"),
        ("STEP 12 close the vent", "12"),
        ("步驟三：重新量測", "3"),
        ("第十二步：收弧", "12"),
        ("二、適用範圍", "2"),
        ("(十一)關閉氣瓶", "11"),
    ],
)
def test_every_numbering_form_is_a_step_marker(line: str, number: str) -> None:
    marker = step_marker(line)
    assert marker is not None and marker.number == number


@pytest.mark.parametrize("line", ["3.5 mm of travel", "12.5% duty", "2024-05-01 生效", "E-203"])
def test_numbers_that_are_not_markers(line: str) -> None:
    assert step_marker(line) is None


def test_chinese_numerals() -> None:
    assert [to_arabic(n) for n in ("三", "十", "十二", "二十", "九十九")] == [3, 10, 12, 20, 99]


def chunks_of(text: str, kind: str = "text", max_tokens: int = 256) -> list:  # type: ignore[type-arg]
    return chunk_document(doc(text, kind), COUNT, ChunkingConfig(max_tokens, 0))


def test_plain_text_headings_and_steps_with_their_notes() -> None:
    text = (
        "1. Purpose 目的\n每班開始前確認扭力。\n\n3. Procedure 步驟\n"
        "1) 將扭力計歸零。\n2) 設定扭力 0.8 N·m。\n注意：E-203 表示離合器未跳脫。\n"
        "3) 連續鎖附 5 次。\n"
    )
    chunks = chunks_of(text)
    procedure = next(c for c in chunks if c.section == "3. Procedure 步驟")
    assert [number for _, _, number in procedure.steps] == ["1", "2", "3"]
    step_two = next(procedure.text[s:e] for s, e, n in procedure.steps if n == "2")
    assert "E-203" in step_two  # the note stays with the step it follows
    assert next(c for c in chunks if c.section == "1. Purpose 目的").steps == ()


def test_a_step_is_never_split_across_chunks() -> None:
    steps = "\n".join(f"{i}. 第{i}步確認模面無殘膠並記錄結果於表單" for i in range(1, 13))
    chunks = chunks_of(f"## 4. 調機步驟\n{steps}\n", "markdown", max_tokens=40)
    assert len(chunks) > 1, "the steps must need several chunks for a split to be possible"
    held = [n for chunk in chunks for _, _, n in chunk.steps]
    assert sorted(set(held), key=int) == [str(i) for i in range(1, 13)]
    for chunk in chunks:
        for _, _, number in chunk.steps:
            assert f"{number}. 第{number}步確認模面無殘膠並記錄結果於表單" in chunk.text


def test_a_long_step_is_split_at_sentences_and_keeps_its_number() -> None:
    long_step = "5. " + "".join(f"第{i}句說明降低料溫的理由。" for i in range(40))
    chunks = chunks_of(f"4. 調機步驟\n{long_step}\n6. 記錄。\n", max_tokens=40)
    fives = [c for c in chunks if any(n == "5" for _, _, n in c.steps)]
    assert len(fives) > 1 and all(c.text.endswith("。") for c in fives)


def test_a_sub_list_belongs_to_its_step() -> None:
    text = "## 4. 步驟\n1. 停機\n(1) 按下停止鍵\n(2) 按下緊急停止\n2. 上鎖\n"
    (chunk,) = [c for c in chunks_of(text, "markdown") if c.steps]
    assert [n for _, _, n in chunk.steps] == ["1", "2"]


def test_a_paragraph_after_a_finished_pdf_step_is_not_part_of_it() -> None:
    page = "(5) Release stored energy.\n(6) Verify the isolation.\nWhat must workers do\nThey must"
    (chunk,) = chunks_of(page, "pdf")
    assert chunk.steps[-1][2] == "6"
    assert "What must" not in chunk.text[chunk.steps[-1][0] : chunk.steps[-1][1]]


def label(chunk_doc: Document) -> str:
    chunk = chunk_document(chunk_doc, COUNT, ChunkingConfig())[-1]
    return Citation.build("SOP-IM-012", "t", "s", chunk_doc.meta, chunk, False).label


def test_sop_label_names_revision_section_step_and_page() -> None:
    meta = DocMeta(doc_id="SOP-IM-012", revision="C")
    pdf = Document(
        "k", "t", "s.pdf", "/s.pdf", "h", "pdf", ("x", "4. 調機步驟\n3. 降低射出壓力 5 bar。"), meta
    )
    assert label(pdf) == "SOP-IM-012 rev C §4 step 3 (p. 2)"


def test_labels_fall_back_gracefully() -> None:
    assert label(doc("只有一段文字。", meta=DocMeta(doc_id="SOP-IM-012"))) == "SOP-IM-012"
    superseded = Citation("d", "t", "s", None, None, 0, 1, "", revision="B", superseded=True)
    assert superseded.with_step("2").label == "d rev B step 2 [superseded]"
