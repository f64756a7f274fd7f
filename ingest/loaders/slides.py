"""PowerPoint decks (.pptx, python-pptx) -> one page per slide: the title as its `#` section,
then its text frames, tables (rows with their headers), grouped shapes, and the speaker notes.
Hidden slides are left empty, as hidden sheets are skipped."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ingest.loaders.extracted import Extracted
from ingest.loaders.tables import table_lines
from retriever.lazy import require

NOTES_LABEL = "Notes"


class SlideError(ValueError):
    """Not a readable PowerPoint deck."""


def pptx_document(path: Path) -> Extracted:
    pptx = require("pptx", "python-pptx")
    try:
        deck = pptx.Presentation(str(path))
        # a hidden slide keeps its number (a citation names the slide as the deck counts it)
        pages = [_slide_text(slide, number) if not _hidden(slide) else ""
                 for number, slide in enumerate(deck.slides, start=1)]  # fmt: skip
    except Exception as exc:  # python-pptx raises zip, XML and key errors on damaged files
        raise SlideError(f"corrupt or unreadable PPTX ({type(exc).__name__}: {exc})") from exc
    title = deck.core_properties.title or None
    return Extracted(pages, title, kind="pptx")


def _hidden(slide: Any) -> bool:
    """Hidden in the slide show (a backup or an outdated slide), as hidden sheets are."""
    return str(slide._element.get("show", "1")).lower() in ("0", "false")


def _slide_text(slide: Any, number: int) -> str:
    title_shape = slide.shapes.title
    title = _one_line(title_shape.text_frame.text) if title_shape is not None else ""
    lines = [f"# {title or f'Slide {number}'}"]
    for shape in slide.shapes:
        if title_shape is not None and shape.shape_id == title_shape.shape_id:
            continue
        lines.extend(_shape_lines(shape))
    if slide.has_notes_slide:
        notes = slide.notes_slide.notes_text_frame
        text = notes.text.strip() if notes is not None else ""
        if text:
            lines.append(f"{NOTES_LABEL}: {text}")
    lines = [line for line in lines if line.strip()]
    if not title and len(lines) == 1:
        return ""  # a picture-only slide: nothing to cite but the number we would make up
    return "\n\n".join(lines)


def _shape_lines(shape: Any) -> Iterator[str]:
    if getattr(shape, "has_table", False) and shape.has_table:
        rows = [[cell.text for cell in row.cells] for row in shape.table.rows]
        yield "\n".join(table_lines(rows))
    elif hasattr(shape, "shapes"):  # a group
        for inner in shape.shapes:
            yield from _shape_lines(inner)
    elif getattr(shape, "has_text_frame", False) and shape.has_text_frame:
        for paragraph in shape.text_frame.paragraphs:
            text = _one_line("".join(run.text for run in paragraph.runs) or paragraph.text)
            if text:
                yield f"{'  ' * paragraph.level}{text}"


def _one_line(text: str) -> str:
    return " ".join(text.split())
