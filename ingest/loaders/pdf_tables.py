"""Ruled tables in PDF text layers (pdfplumber, only on pages whose content draws lines or
boxes): such a page's text is rebuilt top to bottom, each table as rows with their headers. A
table that runs on over a page break keeps its header: the next page's first table of as many
columns, without a header row of its own, reads its rows with the previous page's header."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ingest.loaders.tables import clean_cell, header_names, is_header_row, row_line, table_lines
from retriever.lazy import require

# path operators that draw boxes and rules; a page with fewer has no ruled table to find
_DRAWING = re.compile(rb"\bre\b|\bl\b")
MIN_DRAWING_OPS = 8
MIN_GRID_ROWS = 2


def table_pages(path: Path, contents: Sequence[bytes | None]) -> dict[int, str]:
    """Page index -> its text with tables as rows, for the pages where a table is found;
    `contents` are the pages' raw content streams (None: do not look at that page)."""
    candidates = [i for i, raw in enumerate(contents)
                  if raw is not None and len(_DRAWING.findall(raw)) >= MIN_DRAWING_OPS]  # fmt: skip
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
