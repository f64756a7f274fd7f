"""PDF -> text, page by page (pypdf, imported lazily): a page keeps its number, so a citation's
page is exact. A page without a usable text layer (a scan, or a layer of a few stray
characters) whose images cover a quarter of it or more is rendered with pypdfium2 and read by
OCR; the other pages keep their layer."""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ingest.loaders.extracted import Extracted
from ingest.loaders.images import MAX_PIXELS
from ingest.loaders.ocr import OcrPage, PageReader, dropped_note
from ingest.loaders.pdf_tables import ruled_pages, table_pages
from retriever.lazy import require

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_JUNK = re.compile(r"[\ufffd\ue000-\uf8ff]|\(cid:\d+\)")  # unmapped glyphs of a broken layer
MIN_LAYER_CHARS = 25  # fewer visible characters than this: a scan with a stamp or page number
MAX_JUNK_SHARE = 0.3
MAX_FORM_DEPTH = 3
MIN_SCAN_SHARE = 0.25  # of the page an image must cover for a page without a layer to be OCRed
RENDER_DPI = 200  # PP-OCR reads 10-pt print well at 200 dpi; 300 costs 2x for no gain here


class PdfError(ValueError):
    """The PDF cannot be read: corrupt, encrypted, or not a PDF."""


def _pypdf() -> Any:
    logging.getLogger("pypdf").setLevel(logging.ERROR)  # font warnings are noise to a user
    return require("pypdf", "pypdf")


def pdf_pages(path: Path) -> tuple[list[str], str | None]:
    """The text of every page (empty for a page without a text layer) and the PDF's title."""
    pypdf, errors = _pypdf(), require("pypdf.errors", "pypdf")
    try:
        reader = pypdf.PdfReader(path)
        if reader.is_encrypted and not reader.decrypt(""):
            raise PdfError("encrypted PDF (password required)")
        pages = [_clean_pdf_text(page.extract_text() or "") for page in reader.pages]
        title = reader.metadata.title if reader.metadata else None
    except PdfError:
        raise
    except (errors.PyPdfError, ValueError, KeyError, TypeError, OSError) as exc:
        raise PdfError(f"corrupt or unreadable PDF ({type(exc).__name__}: {exc})") from exc
    except Exception as exc:  # pypdf raises many kinds on damaged files; one must not stop a batch
        raise PdfError(f"unreadable PDF ({type(exc).__name__}: {exc})") from exc
    return pages, _clean_title(title)


def pdf_document(path: Path, reader: PageReader) -> Extracted:
    """Every page's text: its layer where usable, else what OCR reads from its rendering."""
    pages, title = pdf_pages(path)
    layerless = [i for i, text in enumerate(pages) if not usable_layer(text)]
    scanned = [i for i, share in _image_shares(path, layerless).items() if share >= MIN_SCAN_SHARE]
    for i, text in _tables(path, scanned).items():
        pages[i] = text
    confidences: list[float | None] = [None] * len(pages)
    dropped = 0
    for i, read in zip(scanned, _ocr_pages(path, scanned, reader), strict=True):
        if len(read.text.strip()) > len(pages[i].strip()):
            pages[i], confidences[i] = read.text, read.confidence
            dropped += read.dropped
    ocr = tuple(confidences) if any(c is not None for c in confidences) else ()
    return Extracted(pages, title, kind="pdf", ocr=ocr, warnings=dropped_note(dropped))


def _tables(path: Path, scanned: list[int]) -> dict[int, str]:
    try:
        return table_pages(path, ruled_pages(path, scanned))
    except Exception as exc:  # pdfminer fails on some files pypdf reads: keep the layer text
        logging.getLogger(__name__).warning("table extraction skipped for %s: %s", path, exc)
        return {}


def _image_shares(path: Path, indexes: list[int]) -> dict[int, float]:
    """How much of each page its largest image covers: a scan covers most of its page; a page
    whose only images are small (a logo, a divider's ornament) has no text for OCR to find."""
    if not indexes:
        return {}
    pdfium = require("pypdfium2", "pypdfium2")
    raw = require("pypdfium2.raw", "pypdfium2")
    try:
        document = pdfium.PdfDocument(path)
    except pdfium.PdfiumError as exc:
        raise PdfError(f"cannot render the PDF's pages ({exc})") from exc
    try:
        shares = {}
        for i in indexes:
            page = document[i]
            width, height = page.get_size()
            images = page.get_objects(filter=[raw.FPDF_PAGEOBJ_IMAGE], max_depth=MAX_FORM_DEPTH)
            areas = [(r - left) * (t - b) for left, b, r, t in (o.get_bounds() for o in images)]
            shares[i] = max(areas, default=0.0) / max(width * height, 1.0)
            page.close()
        return shares
    finally:
        document.close()


def usable_layer(text: str) -> bool:
    visible = "".join(text.split())
    if len(visible) < MIN_LAYER_CHARS:
        return False
    return sum(len(m) for m in _JUNK.findall(visible)) <= MAX_JUNK_SHARE * len(visible)


def _ocr_pages(path: Path, indexes: list[int], reader: PageReader) -> Iterator[OcrPage]:
    """One page rendered at a time, so a 500-page scan needs the memory of one page."""
    if not indexes:
        return
    pdfium = require("pypdfium2", "pypdfium2")
    reader.expect(len(indexes))
    try:
        document = pdfium.PdfDocument(path)
    except pdfium.PdfiumError as exc:
        raise PdfError(f"cannot render the PDF's scanned pages ({exc})") from exc
    try:
        for i in indexes:
            page = document[i]
            try:
                bitmap = page.render(scale=_scale(*page.get_size()))
                image = bitmap.to_pil()
                yield reader.read(image)
            finally:
                page.close()
    finally:
        document.close()


def _scale(width_pt: float, height_pt: float) -> float:
    """RENDER_DPI, lowered for an oversized page so its bitmap stays within MAX_PIXELS."""
    scale = RENDER_DPI / 72
    pixels = width_pt * height_pt * scale * scale
    return scale if pixels <= MAX_PIXELS else scale * math.sqrt(MAX_PIXELS / pixels)


def _clean_pdf_text(text: str) -> str:
    # pypdf renders symbol-font bullets as control characters such as DEL
    return _CONTROL.sub(" ", text.replace("\r\n", "\n"))


def _clean_title(title: object) -> str | None:
    text = str(title).strip() if title else ""
    # PDF producers often leave placeholders such as "untitled" or a file name
    if not text or text.lower() in {"untitled", "title"} or text.lower().endswith((".doc", ".pdf")):
        return None
    return text
