"""Ruled tables in PDF text layers: such a page's text is rebuilt top to bottom, each table as
rows with their headers. pdfplumber (pure Python, slow) runs only on pages where pypdfium2 finds
a grid: two rows of two or more cell boxes, or three rules across and two down. A table that runs
on over a page break keeps its header: the next page's first table of as many columns, without
a header row of its own, reads its rows with the previous page's header."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ingest.loaders.tables import clean_cell, header_names, is_header_row, row_line, table_lines
from retriever.lazy import require

MIN_GRID_ROWS = 2
RULE_THICKNESS = 2.0  # points: a path thinner than this is a rule, not a box
CELL_SIDE = 5.0  # points: a box smaller than this is a bullet or a dot


def ruled_pages(path: Path, skip: Sequence[int]) -> list[int]:
    """Pages (not in `skip`) whose vector paths form a grid of cells or rules."""
    pdfium = require("pypdfium2", "pypdfium2")
    raw = require("pypdfium2.raw", "pypdfium2")
    document = pdfium.PdfDocument(path)
    try:
        found = []
        for i in range(len(document)):
            if i in skip:
                continue
            page = document[i]
            boxes = [obj.get_bounds() for obj in
                     page.get_objects(filter=[raw.FPDF_PAGEOBJ_PATH], max_depth=2)]  # fmt: skip
            page.close()
            if _is_ruled(boxes):
                found.append(i)
        return found
    finally:
        document.close()


def _is_ruled(boxes: list[tuple[float, float, float, float]]) -> bool:
    across = sum(t - b < RULE_THICKNESS and r - left > 4 * CELL_SIDE for left, b, r, t in boxes)
    down = sum(r - left < RULE_THICKNESS and t - b > 2 * CELL_SIDE for left, b, r, t in boxes)
    rows: dict[tuple[int, int], int] = {}
    for left, b, r, t in boxes:
        if r - left > CELL_SIDE and t - b > CELL_SIDE:
            rows[(round(b), round(t))] = rows.get((round(b), round(t)), 0) + 1
    filled_rows = sum(count >= 2 for count in rows.values())
    return filled_rows >= MIN_GRID_ROWS or (across >= 3 and down >= 2)


def table_pages(path: Path, candidates: Sequence[int]) -> dict[int, str]:
    """Page index -> its text with tables as rows, for the candidate pages where pdfplumber
    finds a table of values."""
    if not candidates:
        return {}
    pdfplumber = require("pdfplumber", "pdfplumber")
    logging.getLogger("pdfminer").setLevel(logging.ERROR)
    found: dict[int, str] = {}
    carried: list[str] | None = None  # the header of a table that ended its page
    with pdfplumber.open(path) as pdf:
        for i in candidates:
            page = pdf.pages[i]
            tables = [t for t in page.find_tables() if _is_grid(t.extract())]
            if not tables:
                carried = None
                continue
            found[i], carried = _page_text(page, sorted(tables, key=lambda t: t.bbox[1]),
                                           carried if i - 1 in found else None)  # fmt: skip
    return found


def _is_grid(rows: list[list[str | None]]) -> bool:
    """Two or more rows of two or more filled cells: a table of values, not a page frame or a
    boxed form (one filled cell a row), whose text reads better as it is laid out."""
    filled_rows = sum(sum(bool((c or "").strip()) for c in row) >= 2 for row in rows)
    return filled_rows >= MIN_GRID_ROWS


def _page_text(page: Any, tables: list[Any], carried: list[str] | None) -> tuple[str, Any]:
    parts: list[str] = []
    top = 0.0
    last_header: list[str] | None = None
    for n, table in enumerate(tables):
        _, y0, _, y1 = table.bbox
        parts.append(_band_text(page, top, y0))
        rows = [[clean_cell(c) for c in row] for row in table.extract()]
        continued = carried if n == 0 and not parts[-1].strip() else None
        lines, last_header = _table_text(rows, continued)
        parts.append("\n".join(lines))
        top = y1
    tail = _band_text(page, top, page.height)
    parts.append(tail)
    text = "\n\n".join(p for p in parts if p.strip())
    return text, last_header if not tail.strip() else None


def _table_text(
    rows: list[list[str]], continued: list[str] | None
) -> tuple[list[str], list[str] | None]:
    if continued is not None and len(rows[0]) == len(continued) and not is_header_row(rows[0]):
        return [row_line(continued, row) for row in rows if any(row)], continued
    header = header_names(rows[:1]) if is_header_row(rows[0]) else None
    return table_lines(rows), header


def _band_text(page: Any, top: float, bottom: float) -> str:
    if bottom - top < 1:
        return ""
    band = page.crop((0, max(top, 0), page.width, min(bottom, page.height)), strict=False)
    return str(band.extract_text() or "")
