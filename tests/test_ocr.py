"""Scanned paper: OCR of PDF pages without a text layer and of image files, page by page, with
the citation saying the text came from OCR; bad images are clear per-file errors."""

from __future__ import annotations

import difflib
import io
import weakref
from pathlib import Path
from typing import Any

import pypdfium2 as pdfium
import pytest
from fpdf import FPDF
from PIL import Image
from pypdf import PdfReader, PdfWriter

from corpus.tools.make_office import SCAN_PAGES
from ingest.loaders import ocr
from ingest.loaders.files import LoadError, SourceFile, load_document
from ingest.loaders.ocr_layout import MIN_CONFIDENCE, OcrBox, page_text
from ingest.pipeline import ingest
from retriever.ranking.search import search
from retriever.store.index_store import IndexStore
from tests.conftest import REPO, live, load_file, png_header
from tests.fakes import FakeEncoder

SCAN = REPO / "corpus" / "sop" / "SOP-PK-005_carton-sealing-scan.pdf"


def box(x0: float, y0: float, x1: float, text: str, confidence: float = 0.95) -> OcrBox:
    return OcrBox(x0, y0, x1, y0 + 20, text, confidence)


def test_layout_reads_a_title_then_each_column_top_to_bottom() -> None:
    boxes = [box(100, 10, 900, "TITLE ACROSS BOTH COLUMNS")]
    for row in range(6):
        boxes.append(box(520, 100 + row * 25, 900, f"right {row}"))
        boxes.append(box(100, 100 + row * 25, 480, f"left {row}"))
    lines = page_text(boxes, 1000).text.split("\n")
    assert lines[0] == "TITLE ACROSS BOTH COLUMNS"
    body = [line for line in lines[1:] if line]
    assert body == [f"left {n}" for n in range(6)] + [f"right {n}" for n in range(6)]


def test_layout_joins_boxes_of_a_line_and_drops_low_confidence_lines() -> None:
    boxes = [box(300, 10, 400, "毛邊"), box(100, 12, 290, "射出成型"),
             box(420, 11, 500, "bar 5"), box(100, 40, 300, "garbled", MIN_CONFIDENCE - 0.1),
             box(100, 120, 300, "新段落")]  # fmt: skip
    read = page_text(boxes, 600)
    assert read.text == "射出成型毛邊 bar 5\n\n新段落"  # no space between two Han characters
    assert read.dropped == 1 and read.confidence == pytest.approx(0.95)


def similarity(a: str, b: str) -> float:
    squash = "".join
    return difflib.SequenceMatcher(None, squash(a.split()), squash(b.split())).ratio()


def test_a_traditional_chinese_scan_is_read_page_by_page() -> None:
    doc = load_file(SCAN)
    assert len(doc.pages) == 2 and all(c is not None and c > 0.9 for c in doc.ocr)
    for page, lines in zip(doc.pages, SCAN_PAGES, strict=True):
        assert similarity(page, "\n".join(lines)) >= 0.97, page


def mixed_pdf(path: Path) -> Path:
    """Text page 1, the scan's first page as page 2, text page 3."""
    text = FPDF()
    text.set_font("Helvetica", size=12)
    for words in ("Page one covers the hydraulic unit warm-up.",
                  "Page three covers the nozzle purge before shutdown."):  # fmt: skip
        text.add_page()
        text.multi_cell(0, 8, words * 3)
    pages = PdfReader(io.BytesIO(bytes(text.output()))).pages
    writer = PdfWriter()
    writer.add_page(pages[0])
    writer.add_page(PdfReader(SCAN).pages[0])
    writer.add_page(pages[1])
    with path.open("wb") as handle:
        writer.write(handle)
    return path


def test_only_pages_without_a_text_layer_are_read_by_ocr(tmp_path: Path) -> None:
    doc = load_file(mixed_pdf(tmp_path / "mixed.pdf"))
    assert doc.ocr[0] is None and doc.ocr[2] is None and doc.ocr[1] is not None
    assert "hydraulic" in doc.pages[0] and "48 mm" in doc.pages[1] and "nozzle" in doc.pages[2]


def test_an_ocr_passage_says_so_in_its_citation_with_the_right_page(tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    mixed_pdf(folder / "mixed.pdf")
    store = IndexStore(tmp_path / "home")
    ingest([folder], store, FakeEncoder())
    scanned = search(live(store), FakeEncoder(), "OPP 膠帶 48 mm", k=1).passages[0]
    assert scanned.citation.page == 2 and scanned.citation.ocr
    assert scanned.citation.ocr_confidence is not None and scanned.citation.ocr_confidence > 0.9
    assert scanned.citation.label.endswith("(p. 2) [OCR]")
    layer = search(live(store), FakeEncoder(), "nozzle purge shutdown", k=1).passages[0]
    assert layer.citation.page == 3 and not layer.citation.ocr
    assert layer.to_dict()["citation"]["ocr"] is False


def test_a_metadata_only_change_never_ocrs_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    mixed_pdf(folder / "mixed.pdf")
    store = IndexStore(tmp_path / "home")
    ingest([folder], store, FakeEncoder())
    (folder / "mixed.pdf.meta.yaml").write_text("revision: B\n", encoding="utf-8")

    def no_ocr(image: Any) -> Any:
        raise AssertionError("the page was OCRed again")

    monkeypatch.setattr(ocr, "_recognise", no_ocr)
    summary = ingest([folder], store, FakeEncoder())
    assert summary.updated == 1 and summary.ocr_pages == 1, summary.failures


def scan_image(scale: float = 100 / 72) -> Image.Image:
    page = pdfium.PdfDocument(SCAN)[0]
    return page.render(scale=scale).to_pil().convert("L")


def test_image_files_and_every_page_of_a_tiff_are_read(tmp_path: Path) -> None:
    image = scan_image(200 / 72)
    image.save(tmp_path / "page.png")
    assert "48 mm" in load_file(tmp_path / "page.png").text
    second = Image.new("L", image.size, 255)
    image.save(tmp_path / "pages.tif", save_all=True, append_images=[second, image])
    doc = load_file(tmp_path / "pages.tif")
    assert len(doc.pages) == 3 and doc.pages[1] == "" and "48 mm" in doc.pages[2]


@pytest.mark.parametrize("angle", [90, 180], ids=["quarter-turn", "upside-down"])
def test_a_turned_page_is_read_top_down(tmp_path: Path, angle: int) -> None:
    scan_image(200 / 72).rotate(angle, expand=True).save(tmp_path / "turned.png")
    text = load_file(tmp_path / "turned.png").text
    assert text.index("1. 目的") < text.index("2.") and "48 mm" in text


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("bomb.png", png_header(20_000, 20_000), "over the 80 MP limit"),
        ("corrupt.jpg", b"\xff\xd8\xff\xe0" + b"\x00garbage" * 50, "corrupt or unreadable image"),
        ("text.png", b"just some text, not an image\n", "corrupt or unreadable image"),
    ],
)
def test_bad_images_are_clear_errors(tmp_path: Path, name: str, data: bytes, reason: str) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(LoadError, match=reason):
        load_file(path)


class Counting:
    def __init__(self) -> None:
        self.total = 0
        self.done = 0

    def start(self, total: int) -> None:
        self.total = total

    def advance(self, n: int) -> None:
        self.done += n


def test_a_500_page_scan_is_read_one_page_at_a_time_with_progress(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "long-scan.pdf"
    pages = [Image.new("L", (300, 420), 255) for _ in range(500)]  # each page a scanned image
    pages[0].save(path, "PDF", resolution=50.0, save_all=True, append_images=pages[1:])
    del pages
    seen: list[weakref.ref[Any]] = []
    most_alive = 0

    def counted(image: Any) -> ocr.OcrPage:
        nonlocal most_alive
        seen.append(weakref.ref(image))
        most_alive = max(most_alive, sum(ref() is not None for ref in seen))
        return ocr.OcrPage(f"page {len(seen)} text of the scanned binder", 0.9, 0)

    monkeypatch.setattr(ocr, "_recognise", counted)
    progress = Counting()
    reader = ocr.PageReader(None, progress)
    doc = load_document(SourceFile(path, tmp_path), path.read_bytes(), "long", reader).document
    assert len(doc.pages) == 500 and doc.pages[499].startswith("page 500")
    assert (progress.total, progress.done) == (500, 500)
    assert most_alive <= 2  # one rendered page at a time (and the copy OCR reads)


def test_a_scan_without_metadata_takes_its_printed_header_block(tmp_path: Path) -> None:
    copy = tmp_path / "scan.pdf"
    copy.write_bytes(SCAN.read_bytes())  # no sidecar beside it
    meta = load_file(copy).meta
    assert (meta.doc_id, meta.revision, meta.effective_date) == ("SOP-PK-005", "A", "2024-04-15")


def test_a_printed_header_never_overrides_given_metadata(tmp_path: Path) -> None:
    path = tmp_path / "sop.txt"
    text = "文件編號：QP-7 版次：C\n本文件版次：Z 的說明\n\n1. 關閉電源。\n"
    path.write_text(text, encoding="utf-8")
    (tmp_path / "sop.txt.meta.yaml").write_text("revision: D\n", encoding="utf-8")
    meta = load_file(path).meta
    assert (meta.doc_id, meta.revision) == ("QP-7", "D")


def test_the_api_citation_says_a_passage_came_from_ocr(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from service.app import create_app
    from service.settings import Settings

    folder = tmp_path / "docs"
    folder.mkdir()
    mixed_pdf(folder / "mixed.pdf")
    encoder = FakeEncoder()
    app = create_app(Settings(home=tmp_path / "home", auth=False), lambda _: encoder)
    app.state.runtime.ingest([folder], prune=False, progress=None)
    response = TestClient(app).post("/v1/query", json={"question": "OPP 膠帶 48 mm", "k": 1})
    citation = response.json()["passages"][0]["citation"]
    assert (citation["page"], citation["ocr"], citation["kind"]) == (2, True, "pdf")
    assert citation["ocr_confidence"] > 0.9 and citation["label"].endswith("[OCR]")


def test_an_uploaded_scan_is_read_by_ocr_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The upload is parsed before it replaces anything, then ingested: one OCR per page."""
    from fastapi.testclient import TestClient

    from service.app import create_app
    from service.settings import Settings

    calls: list[int] = []

    def read(image: Any) -> ocr.OcrPage:
        calls.append(1)
        text = ["1. 封箱膠帶寬度 48 mm。\n2. 每班抽測三箱。",
                "3. 刀片每 5000 箱更換。\n4. 記錄於保養表。"]  # fmt: skip
        return ocr.OcrPage(text[len(calls) % 2], 0.95, 0)

    monkeypatch.setattr(ocr, "_recognise", read)
    app = create_app(Settings(home=tmp_path / "home", auth=False), lambda _: FakeEncoder())
    files = [("files", ("scan.pdf", SCAN.read_bytes(), "application/pdf"))]
    response = TestClient(app).post("/v1/documents", files=files)
    assert response.status_code == 200, response.text
    assert response.json()["files"][0]["status"] == "added" and len(calls) == 2


@pytest.mark.parametrize("logo", [False, True], ids=["blank", "only-a-logo"])
def test_a_page_without_a_scan_is_not_sent_to_ocr(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, logo: bool
) -> None:
    """A back cover, a page left blank, or one with only a logo has no text for OCR to read:
    no image covers a quarter of it."""
    monkeypatch.setattr(ocr, "_recognise", lambda image: pytest.fail("the page was OCRed"))
    text = FPDF()
    text.set_font("Helvetica", size=12)
    text.add_page()
    text.multi_cell(0, 8, "Check the guard interlock before every shift. " * 4)
    text.add_page()
    if logo:
        Image.new("RGB", (64, 64), (200, 30, 30)).save(tmp_path / "logo.png")
        text.image(str(tmp_path / "logo.png"), x=20, y=20, w=30)
    path = tmp_path / "with-blank.pdf"
    text.output(str(path))
    doc = load_file(path)
    assert len(doc.pages) == 2 and doc.pages[1] == "" and doc.ocr == ()


@pytest.mark.parametrize("size", [(1, 1), (3, 2000), (2000, 10), (60, 4000)],
                         ids=["one-pixel", "a-sliver", "a-strip", "too-long"])  # fmt: skip
def test_degenerate_images_never_reach_the_engine(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, size: tuple[int, int]
) -> None:
    """The engine scales a 3 × 2000 px sliver up to gigabytes (the OOM killer ended the test
    process before this guard): such an image reads as an empty page."""
    monkeypatch.setattr(ocr, "_recognise", lambda image: pytest.fail("sent to the engine"))
    path = tmp_path / "tiny.png"
    Image.new("L", size, 255).save(path)
    with pytest.raises(LoadError, match="no text found"):
        load_file(path)


def test_an_engine_failure_fails_the_file_not_the_batch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(image: Any) -> ocr.OcrPage:
        raise ValueError("onnxruntime: bad input shape")

    monkeypatch.setattr(ocr, "_recognise", broken)
    folder = tmp_path / "docs"
    folder.mkdir()
    scan_image().save(folder / "scan.png")
    (folder / "a.md").write_text("# A\n\n1. 關閉電源。\n", encoding="utf-8")
    summary = ingest([folder], IndexStore(tmp_path / "home"), FakeEncoder())
    assert (summary.added, summary.failed) == (1, 1)
    assert "OCR failed on a page (ValueError" in summary.failures[0]["reason"]
