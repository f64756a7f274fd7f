"""The files a plant keeps besides Markdown: Excel, CSV, PowerPoint, HTML, DOCX tables, legacy
Office, and the file types Shifu does not read."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook
from pptx import Presentation
from pptx.util import Inches

from ingest.chunking.document import chunk_document
from ingest.chunking.units import ChunkingConfig
from ingest.loaders import legacy
from ingest.loaders.files import LoadError, SourceFile, load_document
from ingest.pipeline import ingest
from retriever.ranking.search import search
from retriever.records import Chunk, Document
from retriever.store.index_store import IndexStore
from tests.conftest import REPO, live, load_file
from tests.fakes import FakeEncoder

SMALL = ChunkingConfig(max_tokens=40, overlap_tokens=4)


def chunks_of(doc: Document, config: ChunkingConfig = SMALL) -> list[Chunk]:
    return chunk_document(doc, FakeEncoder().count_tokens, config)


def inspection_book(path: Path) -> Path:
    book = Workbook()
    sheet = book.active
    sheet.title = "成型條件"
    sheet.append(["HX-9 射出成型條件表"])
    sheet.merge_cells("A1:D1")
    sheet.append(["文件編號", "SIP-T-001", "版次", "C", "生效日期", "113.05.01"])
    sheet.append([])
    sheet.append(["項目", "溫度", None, "壓力"])
    sheet.merge_cells("B4:C4")
    sheet.append([None, "料管", "模具", "射出"])
    sheet.append(["條件一", 220, 55, 85])
    sheet.append(["條件二", 230, 60, "=D6+5"])
    for n in range(3, 40):
        sheet.append([f"條件{n}", 200 + n, 50, 80])
    book.create_sheet("空白")
    hidden = book.create_sheet("舊版")
    hidden.append(["秘密", "不可索引"])
    hidden.sheet_state = "hidden"
    book.save(path)
    return path


def test_xlsx_rows_carry_their_headers_and_the_header_block_fills_metadata(
    tmp_path: Path,
) -> None:
    doc = load_file(inspection_book(tmp_path / "sheet.xlsx"))
    assert (doc.meta.doc_id, doc.meta.revision, doc.meta.effective_date) == (
        "SIP-T-001", "C", "2024-05-01"
    )  # fmt: skip
    # the merged group cell over two sub-columns names both
    assert "項目: 條件一 | 溫度 料管: 220 | 溫度 模具: 55 | 壓力 射出: 85" in doc.text
    assert "不可索引" not in doc.text and "空白" not in doc.text  # hidden and empty sheets
    chunks = chunks_of(doc)
    assert len(chunks) > 3 and all(c.section == "成型條件" for c in chunks)
    row_lines = {line for line in doc.text.splitlines() if line.startswith("項目: 條件")}
    for chunk in chunks:  # a chunk never cuts a row: each of its lines is a whole row
        assert all(line in row_lines for line in chunk.text.splitlines()
                   if line.startswith("項目: 條件"))  # fmt: skip
    first = next(c for c in chunks if "條件一" in c.text)
    assert first.rows is not None and first.rows.split("–")[0] == "6"


def test_xlsx_formula_cells_use_their_cached_value(tmp_path: Path) -> None:
    """openpyxl writes no cached values; Excel does. A formula without one is left out, never
    indexed as its formula text."""
    doc = load_file(inspection_book(tmp_path / "sheet.xlsx"))
    assert "=D6+5" not in doc.text


def test_an_xlsx_row_is_cited_by_sheet_and_rows(tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    inspection_book(folder / "sheet.xlsx")
    store = IndexStore(tmp_path / "home")
    summary = ingest([folder], store, FakeEncoder(), SMALL)
    assert summary.added == 1, summary.failures
    passage = search(live(store), FakeEncoder(), "條件一 溫度 料管 220", k=1).passages[0]
    assert passage.citation.section == "成型條件" and passage.citation.rows
    assert passage.citation.label.startswith("SIP-T-001 rev C § 成型條件 row 6")
    assert passage.citation.title == "HX-9 射出成型條件表"  # the template's title cell


def test_csv_rows_carry_their_headers(tmp_path: Path) -> None:
    path = tmp_path / "torque.csv"
    path.write_text("螺絲,扭力 (N·m),工具\nM4,2.5,電動起子\nM6,8,扭力扳手\n", encoding="utf-8")
    doc = load_file(path)
    assert "螺絲: M6 | 扭力 (N·m): 8 | 工具: 扭力扳手" in doc.text
    assert doc.kind == "csv" and [r[2] for r in doc.rows] == [2, 3]


def deck(path: Path) -> Path:
    presentation = Presentation()
    for title, body, notes in [("安全須知", "戴安全眼鏡", "講師：先示範"),
                               ("換模步驟", "先關閉液壓", "")]:  # fmt: skip
        slide = presentation.slides.add_slide(presentation.slide_layouts[1])
        slide.shapes.title.text = title
        slide.placeholders[1].text_frame.text = body
        if notes:
            slide.notes_slide.notes_text_frame.text = notes
    slide = presentation.slides.add_slide(presentation.slide_layouts[5])
    slide.shapes.title.text = "扭力表"
    shape = slide.shapes.add_table(2, 2, Inches(1), Inches(2), Inches(4), Inches(1))
    for (r, c), value in {(0, 0): "螺絲", (0, 1): "扭力", (1, 0): "M5", (1, 1): "4 N·m"}.items():
        shape.table.cell(r, c).text = value
    presentation.save(str(path))
    return path


def test_pptx_slides_are_pages_with_title_sections_tables_and_notes(tmp_path: Path) -> None:
    doc = load_file(deck(tmp_path / "training.pptx"))
    assert doc.kind == "pptx" and len(doc.pages) == 3
    assert "Notes: 講師：先示範" in doc.pages[0] and "螺絲: M5 | 扭力: 4 N·m" in doc.pages[2]
    by_page = {c.page: c for c in chunks_of(doc)}
    assert (by_page[2].section, by_page[3].section) == ("換模步驟", "扭力表")
    assert not by_page[2].text.startswith("#")


def test_a_hidden_slide_is_not_read_and_the_others_keep_their_numbers(tmp_path: Path) -> None:
    path = deck(tmp_path / "training.pptx")
    presentation = Presentation(str(path))
    presentation.slides[1]._element.set("show", "0")
    presentation.slides.add_slide(presentation.slide_layouts[6])  # blank: a picture would go here
    presentation.save(str(path))
    doc = load_file(path)
    assert doc.pages[1] == "" and "先關閉液壓" not in doc.text and "扭力表" in doc.pages[2]
    assert len(doc.pages) == 4 and doc.pages[3] == ""  # no made-up "Slide 4" to index


def test_a_slide_is_cited_by_its_number(tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    deck(folder / "training.pptx")
    store = IndexStore(tmp_path / "home")
    ingest([folder], store, FakeEncoder(), SMALL)
    passage = search(live(store), FakeEncoder(), "先關閉液壓", k=1).passages[0]
    assert passage.citation.page == 2 and passage.citation.label.endswith("(slide 2)")


HTML = """<html><head><title>換模 SOP</title><style>.x{color:red}</style>
<script>alert('x')</script></head><body><nav><a href="/">首頁</a> 選單</nav>
<h1>換模作業</h1><h2>1. 準備</h2><p>確認<a href="javascript:alert(1)">吊具</a>荷重。</p>
<ol><li>關閉液壓</li><li>拆下模具</li></ol>
<table><tr><th>螺絲</th><th>扭力</th></tr><tr><td>M8</td><td>20 N·m</td></tr></table>
<footer>版權所有</footer></body></html>"""


def test_html_keeps_headings_lists_and_tables_and_drops_scripts_and_navigation(
    tmp_path: Path,
) -> None:
    path = tmp_path / "page.html"
    path.write_text(HTML, encoding="utf-8")
    doc = load_file(path)
    assert doc.title == "換模 SOP"
    for gone in ("alert", "javascript", "首頁", "版權所有", "color:red"):
        assert gone not in doc.text
    assert "確認 吊具 荷重。" in doc.text and "螺絲: M8 | 扭力: 20 N·m" in doc.text
    chunks = chunks_of(doc)
    steps = [c for c in chunks if c.steps]
    assert steps and steps[0].section == "1. 準備" and [s[2] for s in steps[0].steps] == ["1", "2"]


def test_docx_tables_carry_their_headers(tmp_path: Path) -> None:
    docx = pytest.importorskip("docx")
    document = docx.Document()
    document.add_paragraph("扭力規格")
    table = document.add_table(rows=2, cols=2)
    for (r, c), value in {(0, 0): "螺絲", (0, 1): "扭力", (1, 0): "M6", (1, 1): "8 N·m"}.items():
        table.cell(r, c).text = value
    path = tmp_path / "spec.docx"
    document.save(str(path))
    assert "螺絲: M6 | 扭力: 8 N·m" in load_file(path).text


def test_markdown_style_text_shows_no_heading_markers(tmp_path: Path) -> None:
    path = tmp_path / "sop.txt"
    path.write_text("# 射出 SOP\n\n## 4. 調機步驟\n\n1. 降低射出壓力。\n2. 確認毛邊。\n",
                    encoding="utf-8")  # fmt: skip
    chunks = chunks_of(load_file(path))
    assert [c.section for c in chunks if c.steps] == ["4. 調機步驟"]
    assert all("#" not in c.text for c in chunks)
    assert next(c.text for c in chunks if c.steps).startswith("4. 調機步驟")


def test_legacy_office_without_libreoffice_names_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(legacy.shutil, "which", lambda name: None)
    path = tmp_path / "old.doc"
    path.write_bytes(b"\xd0\xcf\x11\xe0 an old Word file")
    with pytest.raises(LoadError, match=r"need LibreOffice .*apt-get install libreoffice"):
        load_file(path)


def test_unread_file_types_are_counted_and_listed(tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "a.md").write_text("# A\n\n1. 關閉電源。\n", encoding="utf-8")
    (folder / "a.md.meta.yaml").write_text("doc_type: sop\n", encoding="utf-8")  # a sidecar
    for name in ("drawing.dwg", "clip.mp4", "other.dwg"):
        (folder / name).write_bytes(b"x")
    summary = ingest([folder], IndexStore(tmp_path / "home"), FakeEncoder())
    assert summary.skipped == {".dwg": 2, ".mp4": 1}
    skipped = [f for f in summary.files if f["status"] == "skipped"]
    assert sorted(Path(f["path"]).name for f in skipped) == ["clip.mp4", "drawing.dwg", "other.dwg"]


def test_cli_ingest_reports_skipped_types(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.test_hostile_inputs import fake_cli_runtime, shifu

    fake_cli_runtime(monkeypatch)
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "a.md").write_text("# A\n\n1. 關閉電源。\n", encoding="utf-8")
    (folder / "b.dwg").write_bytes(b"x")
    result = shifu("ingest", str(folder), "--home", str(tmp_path / "home"))
    assert result.exit_code == 0
    assert "skipped files of types Shifu does not read: 1 .dwg" in result.output
    data: dict[str, Any] = json.loads(
        shifu("ingest", str(folder), "--home", str(tmp_path / "home"), "--json").stdout
    )
    assert data["skipped"] == {".dwg": 1}


def test_the_sample_sheet_deck_and_scan_are_read(tmp_path: Path) -> None:
    sop = REPO / "corpus" / "sop"
    sheet = load_file(sop / "SIP-IM-003_hx200-molding.xlsx")
    assert "檢驗項目: 冷卻時間 | 位置: — | 設定值: 18" in sheet.text
    assert zipfile.is_zipfile(sop / "TRN-5S-001_5s-training.pptx")
    assert len(load_file(sop / "TRN-5S-001_5s-training.pptx").pages) == 5


def million_empty_rows(path: Path) -> Path:
    """A workbook whose sheet holds two filled rows and then a million empty row elements."""
    inspection_book(path)
    with zipfile.ZipFile(path) as source:
        parts = {name: source.read(name) for name in source.namelist()}
    rows = "".join(f'<row r="{n}"/>' for n in range(3, 1_000_003))
    parts["xl/worksheets/sheet1.xml"] = (
        '<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats'
        '.org/spreadsheetml/2006/main"><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>'
        '料管溫度</t></is></c><c r="B1"><v>220</v></c></row><row r="2"><c r="A2" t="inlineStr">'
        f"<is><t>模具溫度</t></is></c><c r=\"B2\"><v>55</v></c></row>{rows}</sheetData></worksheet>"
    ).encode()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target:
        for name, data in parts.items():
            target.writestr(name, data)
    return path


def test_a_sheet_of_a_million_empty_rows_is_read_in_bounded_time(tmp_path: Path) -> None:
    path = million_empty_rows(tmp_path / "long.xlsx")
    loaded = load_document(SourceFile(path, tmp_path), path.read_bytes(), "long")
    assert "料管溫度 | 220" in loaded.document.text
    assert any("stopped reading at row 10,002 after 10,000 empty rows" in w
               for w in loaded.warnings)  # fmt: skip


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        # Office encrypts a password-protected workbook into an OLE compound file, not a ZIP
        ("locked.xlsx", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 512,
         "password-protected or damaged"),
        ("renamed.pptx", None, "corrupt or unreadable PPTX"),
        ("renamed.xlsx", None, "unreadable XLSX"),
    ],
)
def test_bad_office_files_are_clear_errors(
    tmp_path: Path, name: str, data: bytes | None, reason: str
) -> None:
    path = tmp_path / name
    if data is None:  # a ZIP archive of something else, renamed
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("notes.txt", "not a deck")
    else:
        path.write_bytes(data)
    with pytest.raises(LoadError, match=reason):
        load_file(path)


def table_pdf(path: Path, repeat_header: bool) -> Path:
    """A ruled table of 36 bolts that runs over a page break, between two paragraphs."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_font("Helvetica", size=11)
    pdf.add_page()
    pdf.multi_cell(0, 7, "Section 3 Torque values\nTighten each bolt to the value below.")
    with pdf.table(col_widths=(40, 40, 40), repeat_headings=int(repeat_header)) as table:
        for cells in [("Bolt", "Torque (N m)", "Tool")] + [
            (f"M{n}", str(n * 2), "wrench") for n in range(4, 40)
        ]:
            row = table.row()
            for cell in cells:
                row.cell(cell)
    pdf.multi_cell(0, 7, "Record the values on the check sheet.")
    pdf.output(str(path))
    return path


@pytest.mark.parametrize("repeat_header", [True, False], ids=["header-repeated", "no-header"])
def test_a_pdf_table_reads_as_rows_with_headers_across_a_page_break(
    tmp_path: Path, repeat_header: bool
) -> None:
    doc = load_file(table_pdf(tmp_path / "torque.pdf", repeat_header))
    assert len(doc.pages) == 2
    assert "Bolt: M4 | Torque (N m): 8 | Tool: wrench" in doc.pages[0]
    # the rows on the second page still say what their numbers are
    assert "Bolt: M39 | Torque (N m): 78 | Tool: wrench" in doc.pages[1]
    assert doc.pages[1].rstrip().endswith("Record the values on the check sheet.")
    for chunk in chunks_of(doc):  # a chunk never cuts a row
        assert all(line.startswith(("Bolt", "Section", "Tighten", "Record"))
                   for line in chunk.text.splitlines() if line)  # fmt: skip


@pytest.mark.libreoffice
def test_a_legacy_doc_is_converted_by_libreoffice_and_read(tmp_path: Path) -> None:
    import subprocess

    docx = pytest.importorskip("docx")
    from tests.system_packages import ensure_program

    soffice = ensure_program("soffice", "libreoffice-writer-nogui")
    document = docx.Document()
    document.add_heading("換模作業", level=1)
    document.add_paragraph("關閉液壓幫浦後再拆模。", style="List Number")
    document.save(str(tmp_path / "old.docx"))
    profile = f"-env:UserInstallation=file://{tmp_path}/u"
    command = [str(soffice), "--headless", profile, "--convert-to", "doc",
               "--outdir", str(tmp_path / "doc"), str(tmp_path / "old.docx")]  # fmt: skip
    subprocess.run(command, check=True, capture_output=True, timeout=180)
    doc = load_file(tmp_path / "doc" / "old.doc")
    assert "關閉液壓幫浦後再拆模" in doc.text and doc.kind == "docx"
