"""Workbooks (.xlsx, openpyxl, streamed) and .csv files -> text: each visible sheet a `#`
section, the template's header block as 'label: value' lines (and metadata), then the table, a
line per row with its header cells. Rows are streamed, so a sheet that claims a million empty
rows costs only the rows read until a long empty run ends the sheet (and says so)."""

from __future__ import annotations

import csv
import itertools
import re
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from ingest.loaders.extracted import Extracted
from ingest.loaders.tables import CELL_SEPARATOR, clean_cell, header_names, is_header_row, row_line
from ingest.loaders.template_meta import is_block_row, pairs, stated_meta
from retriever.lazy import require
from retriever.records import RowSpan

EMPTY_RUN_END = 10_000  # consecutive empty rows that end a sheet
MAX_ROWS = 200_000  # rows read per sheet
_MERGE = re.compile(rb'<mergeCell ref="([A-Z]+\d+:[A-Z]+\d+)"')


class SheetError(ValueError):
    """The workbook cannot be read."""


def xlsx_document(path: Path) -> Extracted:
    openpyxl = require("openpyxl", "openpyxl")
    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except zipfile.BadZipFile as exc:
        raise SheetError("not an XLSX workbook (a password-protected or damaged file?)") from exc
    except Exception as exc:  # openpyxl raises KeyError, ValueError... on damaged parts
        raise SheetError(f"unreadable XLSX ({type(exc).__name__}: {exc})") from exc
    try:
        writer = _SheetText()
        for sheet in book.worksheets:
            if sheet.sheet_state != "visible":
                continue
            merges = _merges(book, sheet)
            writer.sheet(sheet.title, _filled(sheet.iter_rows(values_only=True), merges))
    except SheetError:
        raise
    except Exception as exc:
        raise SheetError(f"unreadable XLSX ({type(exc).__name__}: {exc})") from exc
    finally:
        book.close()
    title = book.properties.title if book.properties is not None else None
    return writer.extracted("xlsx", title)


def csv_document(text: str) -> Extracted:
    try:
        dialect: Any = csv.Sniffer().sniff(text[:4096], delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel
    writer = _SheetText()
    rows = csv.reader(text.splitlines(), dialect)
    writer.sheet(None, ([clean_cell(c) for c in row] for row in rows))
    return writer.extracted("csv", None)


class _SheetText:
    """Builds the text of one workbook sheet by sheet, recording where each row's line is."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.size = 0
        self.rows: list[RowSpan] = []
        self.block: list[list[str]] = []
        self.notes: list[str] = []
        self.title_cell: str | None = None  # a lone cell atop the first sheet's header block

    def sheet(self, title: str | None, rows: Iterable[Iterable[str]]) -> None:
        numbered = list(_bounded(rows, title or "the file", self.notes))
        if not any(any(cells) for _, cells in numbered):
            return  # an empty sheet
        if title is not None:
            self._line(f"# {title}")
        headers: list[str] | None = None
        in_block, blank = True, False
        for i, (number, cells) in enumerate(numbered):
            if not any(cells):
                blank = True
                continue
            if blank and headers is not None and not _fits(cells, headers):
                headers = None  # the table ended: a note or another table follows
            blank = False
            if in_block and headers is None and is_block_row(cells):
                if self.title_cell is None and len(set(filter(None, cells))) == 1:
                    self.title_cell = next(c for c in cells if c)
                self.block.append(cells)
                self._line(_block_line(cells))
                continue
            in_block = False
            if headers is None and _starts_table(numbered, i):
                headers = header_names([cells])
                following = numbered[i + 1][1] if i + 1 < len(numbered) else []
                if _grouped(cells) and _starts_table(numbered, i + 1):
                    # a merged group cell above sub-column names: '溫度 料管', '溫度 模具'
                    headers = header_names([cells, following])
                self._line(CELL_SEPARATOR.join(h for h in headers if h), blank=True)
            elif headers is not None and _is_subheader(numbered, i):
                continue  # the sub-column row already merged into the headers
            else:
                self._line(row_line(headers or [], cells), number=number)

    def _line(self, text: str, number: int | None = None, blank: bool = False) -> None:
        if not text:
            return
        separator = "\n\n" if self.parts and (blank or text.startswith("# ")) else "\n"
        if self.parts:
            self.parts.append(separator)
            self.size += len(separator)
        if number is not None:
            self.rows.append((self.size, self.size + len(text), number))
        self.parts.append(text)
        self.size += len(text)

    def extracted(self, kind: str, title: str | None) -> Extracted:
        stated, notes = stated_meta(self.block)
        text = "".join(self.parts)
        title = title or self.title_cell
        return Extracted([text], title or None, stated, kind=kind, rows=tuple(self.rows),
                         warnings=tuple(self.notes + notes))  # fmt: skip


def _fits(cells: Sequence[str], headers: Sequence[str]) -> bool:
    """A row after a blank one still belongs to the table above when it fills half its columns."""
    return sum(bool(c) for c in cells) * 2 >= sum(bool(h) for h in headers)


def _starts_table(rows: list[tuple[int, list[str]]], i: int) -> bool:
    """Row i names columns and a filled row follows it."""
    if i + 1 >= len(rows):
        return False
    return is_header_row(rows[i][1]) and sum(bool(c) for c in rows[i + 1][1]) >= 2


def _is_subheader(rows: list[tuple[int, list[str]]], i: int) -> bool:
    """Row i is the sub-column row under a grouped header row."""
    return i > 0 and _grouped(rows[i - 1][1]) and _starts_table(rows, i - 1) and (
        _starts_table(rows, i)
    )


def _block_line(cells: Sequence[str]) -> str:
    found = pairs(cells)
    if found:
        return CELL_SEPARATOR.join(f"{k}: {v}" for k, v in found)
    return CELL_SEPARATOR.join(dict.fromkeys(c for c in cells if c))  # a merged title once


def _grouped(cells: Sequence[str]) -> bool:
    """A header row with one name over neighbouring columns (a merged cell, filled)."""
    return any(a and a == b for a, b in itertools.pairwise(cells))


def _bounded(
    rows: Iterable[Iterable[str]], name: str, notes: list[str]
) -> Iterator[tuple[int, list[str]]]:
    empty = 0
    for number, row in enumerate(rows, start=1):
        cells = list(row)
        empty = 0 if any(cells) else empty + 1
        if empty >= EMPTY_RUN_END or number > MAX_ROWS:
            why = f"{EMPTY_RUN_END:,} empty rows" if empty else f"{MAX_ROWS:,} rows"
            notes.append(f"{name}: stopped reading at row {number:,} after {why}")
            return
        yield number, cells


def _filled(
    rows: Iterable[Sequence[object]], merges: list[tuple[int, int, int, int]]
) -> Iterator[list[str]]:
    """Rows as cleaned strings, a merged range's value in every cell it covers."""
    anchors: dict[tuple[int, int], str] = {}
    for number, row in enumerate(rows, start=1):
        cells = [clean_cell(c) for c in row]
        for min_col, min_row, max_col, max_row in merges:
            if not min_row <= number <= max_row:
                continue
            if number == min_row and min_col - 1 < len(cells):
                anchors[(min_row, min_col)] = cells[min_col - 1]
            value = anchors.get((min_row, min_col), "")
            cells.extend([""] * (max_col - len(cells)))
            for col in range(min_col - 1, max_col):
                cells[col] = cells[col] or value
        yield cells


def _merges(book: Any, sheet: Any) -> list[tuple[int, int, int, int]]:
    """Merged ranges, read from the sheet's XML (read-only openpyxl does not parse them)."""
    cell_utils = require("openpyxl.utils.cell", "openpyxl")
    path = getattr(sheet, "_worksheet_path", None)
    archive = getattr(book, "_archive", None)
    if path is None or archive is None:
        return []
    found: list[tuple[int, int, int, int]] = []
    tail = b""
    with archive.open(path) as source:
        while block := source.read(1 << 20):
            data = tail + block
            found.extend(cell_utils.range_boundaries(m.decode()) for m in _MERGE.findall(data))
            tail = data[-64:]
    return sorted(set(found), key=lambda r: (r[1], r[0]))
