"""Tables -> text lines, one line a row, every value with its column's header
("項目: 料管溫度 | 設定值: 220 °C"), so a row found alone still says what its numbers are.
The one owner of how a table reads, for every format (DOCX, XLSX, CSV, PPTX, HTML, PDF)."""

from __future__ import annotations

import re
from collections.abc import Sequence

CELL_SEPARATOR = " | "
_NUMBER = re.compile(r"^[\s+\-±~≦≧<>=.,%°℃()\d]*$")
_SPACES = re.compile(r"\s+")


def clean_cell(value: object) -> str:
    """A cell as one line of text: whole floats without '.0', whitespace collapsed."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return _SPACES.sub(" ", str(value)).strip()


def is_header_row(cells: Sequence[str]) -> bool:
    """Two or more labels and no bare numbers: the row names the columns below it. Cells that
    end in a colon are a form's field labels, each waiting for its own value, not columns."""
    filled = [c for c in cells if c]
    fields = sum(c.endswith((":", "：")) for c in filled)
    return len(filled) >= 2 and not any(_NUMBER.match(c) for c in filled) and fields * 2 < len(
        filled
    )


def header_names(header_rows: Sequence[Sequence[str]]) -> list[str]:
    """One name per column from one or more header rows (a merged group cell above its
    sub-columns gives '溫度 料管'); a repeated part is not repeated."""
    width = max((len(r) for r in header_rows), default=0)
    names = []
    for column in range(width):
        parts: list[str] = []
        for row in header_rows:
            cell = row[column] if column < len(row) else ""
            if cell and cell not in parts:
                parts.append(cell)
        names.append(" ".join(parts))
    return names


def row_line(headers: Sequence[str], cells: Sequence[str]) -> str:
    """'header: value' for each filled cell; a value without a header stands alone."""
    parts = []
    for column, cell in enumerate(cells):
        if not cell:
            continue
        header = headers[column] if column < len(headers) else ""
        parts.append(f"{header}: {cell}" if header and header != cell else cell)
    return CELL_SEPARATOR.join(parts)


def table_lines(rows: Sequence[Sequence[object]]) -> list[str]:
    """A whole table: its header line (when the first row is one), then one line per row."""
    cleaned = [[clean_cell(c) for c in row] for row in rows]
    cleaned = [row for row in cleaned if any(row)]
    if not cleaned:
        return []
    if len(cleaned) < 2 or not is_header_row(cleaned[0]):
        return [CELL_SEPARATOR.join(c for c in row if c) for row in cleaned]
    headers = header_names(cleaned[:1])
    lines = [CELL_SEPARATOR.join(h for h in headers if h)]
    lines.extend(row_line(headers, row) for row in cleaned[1:])
    return lines
