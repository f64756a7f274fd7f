"""DOCX -> Markdown-like text (headings as `#`, numbered list paragraphs as `1.` lines), so
one structure parser reads Markdown, text, PDF and Word alike; core properties -> metadata."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ingest.loaders.tables import table_lines
from retriever.lazy import require

_HEADING_STYLE = re.compile(r"^(?:heading|標題)\s*(\d)$", re.IGNORECASE)
_LIST_LEVEL = re.compile(r"(\d)$")
CORE_PROPERTIES = {
    "identifier": "doc_id",
    "title": "title",
    "version": "revision",
    "category": "doc_type",
    "language": "language",
}


class DocxError(ValueError):
    """Not a readable Word document."""


def docx_text(path: Path) -> tuple[str, dict[str, Any]]:
    docx = require("docx", "python-docx")
    try:
        document = docx.Document(str(path))
    except Exception as exc:  # python-docx raises zip, XML and key errors on damaged files
        raise DocxError(f"corrupt or unreadable DOCX ({type(exc).__name__}: {exc})") from exc
    return _render(document), _properties(document)


def _render(document: Any) -> str:
    lines: list[str] = []
    counters: list[int] = []
    for block in document.iter_inner_content():
        if hasattr(block, "rows"):  # a table: one line per row, each value with its header
            rows = [[cell.text for cell in row.cells] for row in block.rows]
            lines.append("\n".join(table_lines(rows)))
            continue
        text = block.text.strip()
        if not text:
            continue
        style = block.style.name if block.style is not None else ""
        heading = _heading_level(style)
        if heading:
            counters = []
            lines.append(f"{'#' * heading} {text}")
        elif _is_numbered(block, style):
            lines.append(_numbered(text, _list_level(block, style), counters))
        elif "bullet" in style.lower():
            lines.append(f"- {text}")
        else:
            lines.append(text)
    return "\n\n".join(lines)


def _heading_level(style: str) -> int:
    if style.lower() == "title":
        return 1
    match = _HEADING_STYLE.match(style)
    return min(int(match.group(1)) + 1, 6) if match else 0


def _is_numbered(paragraph: Any, style: str) -> bool:
    if "number" in style.lower():
        return True
    ppr = paragraph._p.pPr
    return bool(ppr is not None and ppr.numPr is not None and "bullet" not in style.lower())


def _list_level(paragraph: Any, style: str) -> int:
    ppr = paragraph._p.pPr
    if ppr is not None and ppr.numPr is not None and ppr.numPr.ilvl is not None:
        return int(ppr.numPr.ilvl.val)
    match = _LIST_LEVEL.search(style)
    return int(match.group(1)) - 1 if match else 0


def _numbered(text: str, level: int, counters: list[int]) -> str:
    """Word keeps the numbers in its numbering part; count them as Word displays them."""
    del counters[level + 1 :]
    while len(counters) <= level:
        counters.append(0)
    counters[level] += 1
    return f"{counters[0]}. {text}" if level == 0 else f"({counters[level]}) {text}"


def _properties(document: Any) -> dict[str, Any]:
    core = document.core_properties
    found = {}
    for attribute, field_name in CORE_PROPERTIES.items():
        value = getattr(core, attribute, None)
        if value not in (None, ""):
            found[field_name] = str(value).strip()
    return found
