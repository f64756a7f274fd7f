"""OCR quality and speed: pages rendered to images and read back, against the text they came from.

    python -m bench.ocr_quality [--osha-pages 12] [--zh-pages 3] [--dpi 200]

OSHA: pages of the OSHA PDFs (../shared/evaldata/osha-pdfs) with a text layer of 400 or more
characters, spread over the files, rendered at --dpi with pypdfium2 and read by Shifu's OCR
(PageReader: layout, confidence floor); compared with the page's own text layer. Traditional
Chinese: DRCD paragraphs drawn onto A4 pages at --dpi with a CJK font (fonts-wqy-microhei),
then read back. Similarity is difflib's ratio over the texts with all whitespace removed (so
line breaks and spacing do not count; reading order and characters do). Prints each page, the
mean, the minimum, how many reach the issue's floor, and pages/s.
"""

from __future__ import annotations

import argparse
import difflib
import json
import statistics
import textwrap
import time
from pathlib import Path
from typing import Any

import pypdfium2 as pdfium
from PIL import Image, ImageDraw, ImageFont

from ingest.loaders.ocr import PageReader
from ingest.loaders.pdf_text import pdf_pages

EVALDATA = Path(__file__).resolve().parents[2] / "shared" / "evaldata"
FONT = "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"
MIN_LAYER = 400


def similarity(a: str, b: str) -> float:
    return difflib.SequenceMatcher(None, "".join(a.split()), "".join(b.split()),
                                   autojunk=False).ratio()  # fmt: skip


def osha_pages(count: int) -> list[tuple[str, int, str]]:
    """(file, page index, layer text) of `count` text-rich pages spread over the PDFs."""
    candidates: list[tuple[str, int, str]] = []
    for path in sorted((EVALDATA / "osha-pdfs").glob("*.pdf")):
        pages, _ = pdf_pages(path)
        candidates.extend((path.name, i, t) for i, t in enumerate(pages) if len(t) >= MIN_LAYER)
    step = max(1, len(candidates) // count)
    return candidates[::step][:count]


def render_pdf_page(path: Path, index: int, dpi: int) -> Image.Image:
    document = pdfium.PdfDocument(path)
    try:
        return document[index].render(scale=dpi / 72).to_pil()
    finally:
        document.close()


def drcd_pages(count: int, dpi: int) -> list[tuple[str, Image.Image, str]]:
    """A4 pages of DRCD paragraphs at 11 pt, each with the text drawn on it."""
    rows = [json.loads(line) for line in (EVALDATA / "drcd-dev" / "corpus.jsonl").open()]
    size = round(11 / 72 * dpi)
    font = ImageFont.truetype(FONT, size)
    width, height = round(8.27 * dpi), round(11.69 * dpi)
    per_line = int((width - 2 * dpi) / size)
    pages = []
    for row in rows[:count]:
        lines = textwrap.wrap(row["text"], per_line)[: int((height - 2 * dpi) / (size * 1.6))]
        page = Image.new("L", (width, height), 255)
        draw = ImageDraw.Draw(page)
        for n, line in enumerate(lines):
            draw.text((dpi, dpi + n * size * 1.6), line, fill=0, font=font)
        pages.append((row["_id"], page, "".join(lines)))
    return pages


def measure(label: str, items: list[tuple[str, Any, str]], reader: PageReader, floor: float) -> int:
    scores, seconds = [], 0.0
    for name, image, truth in items:
        began = time.perf_counter()
        read = reader.read(image)
        seconds += time.perf_counter() - began
        scores.append(similarity(read.text, truth))
        print(f"  {name}: similarity {scores[-1]:.4f}, confidence {read.confidence}")
    reached = sum(s >= floor for s in scores)
    print(f"{label}: {len(scores)} pages, mean {statistics.fmean(scores):.4f}, "
          f"min {min(scores):.4f}, {reached} at or above {floor}; "
          f"{len(scores) / seconds:.2f} pages/s ({seconds / len(scores):.2f} s a page)")
    return len(scores)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--osha-pages", type=int, default=12)
    parser.add_argument("--zh-pages", type=int, default=3)
    parser.add_argument("--dpi", type=int, default=200)
    args = parser.parse_args()
    reader = PageReader()  # no cache: every page is read
    osha = [(f"{name} p.{index + 1}", render_pdf_page(EVALDATA / "osha-pdfs" / name, index,
             args.dpi), text) for name, index, text in osha_pages(args.osha_pages)]  # fmt: skip
    measure("OSHA pages vs their text layer", osha, reader, 0.97)
    measure("DRCD Traditional Chinese pages", drcd_pages(args.zh_pages, args.dpi), reader, 0.98)


if __name__ == "__main__":
    main()
