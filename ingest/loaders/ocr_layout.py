"""OCR boxes -> text in reading order: lines below the confidence floor dropped, boxes of one
printed line joined, columns read one after the other, a paragraph gap kept as a blank line
(the structure parser tells headings and steps by it). Pure geometry: no model here."""

from __future__ import annotations

import re
import statistics
from dataclasses import dataclass

from retriever.text import CJK_CHARS

# PP-OCR scores a clean printed line 0.9-1.0; below this a line is mostly wrong characters
MIN_CONFIDENCE = 0.6
PARAGRAPH_GAP = 0.8  # a vertical gap of this many line heights starts a new paragraph
MIN_COLUMN_SHARE = 0.2  # each column of a two-column page holds at least this share of lines
MIN_COLUMN_LINES = 3
MIN_COLUMN_WIDTH = 0.25  # of the page: a column's lines are wide; a form's labels are not
_WIDE = re.compile(f"[{CJK_CHARS}\u3000-\u303f\uff00-\uffef]")  # Han and full-width marks


@dataclass(frozen=True)
class OcrBox:
    """One recognised text line: its axis-aligned box in pixels, text and confidence."""

    x0: float
    y0: float
    x1: float
    y1: float
    text: str
    confidence: float

    @property
    def height(self) -> float:
        return self.y1 - self.y0

    @property
    def middle(self) -> float:
        return (self.y0 + self.y1) / 2


@dataclass(frozen=True)
class OcrText:
    text: str
    confidence: float | None  # mean over the kept lines, None when nothing was read
    dropped: int  # lines below MIN_CONFIDENCE


def page_text(boxes: list[OcrBox], width: float) -> OcrText:
    kept = [b for b in boxes if b.confidence >= MIN_CONFIDENCE and b.text.strip()]
    if not kept:
        return OcrText("", None, len(boxes))
    gutter = column_gutter(kept, width)
    paragraphs: list[str] = []
    for band in _bands(kept, gutter):
        if gutter is None or any(b.x0 < gutter < b.x1 for b in band):
            paragraphs.extend(_column_text(band))  # one column, or a line across both
            continue
        paragraphs.extend(_column_text([b for b in band if b.x1 <= gutter]))
        paragraphs.extend(_column_text([b for b in band if b.x0 >= gutter]))
    text = "\n\n".join(p for p in paragraphs if p)
    confidence = statistics.fmean(b.confidence for b in kept)
    return OcrText(text, round(confidence, 4), len(boxes) - len(kept))


def column_gutter(boxes: list[OcrBox], width: float) -> float | None:
    """The x of an empty vertical strip in the middle of the page with enough lines on each
    side (a two-column layout), else None."""
    best: tuple[int, float] | None = None
    for step in range(30, 71, 2):
        x = width * step / 100
        left = [b for b in boxes if b.x1 <= x]
        right = [b for b in boxes if b.x0 >= x]
        if not (_column(left, len(boxes), width) and _column(right, len(boxes), width)):
            continue
        crossing = len(boxes) - len(left) - len(right)
        # full-width lines (a title, a table) may cross the gutter; columns are most lines
        if crossing <= 0.25 * len(boxes) and (best is None or crossing < best[0]):
            best = (crossing, x)
    return best[1] if best else None


def _column(side: list[OcrBox], total: int, width: float) -> bool:
    if len(side) < max(MIN_COLUMN_LINES, MIN_COLUMN_SHARE * total):
        return False
    return statistics.median(b.x1 - b.x0 for b in side) >= MIN_COLUMN_WIDTH * width


def _bands(boxes: list[OcrBox], gutter: float | None) -> list[list[OcrBox]]:
    """Top-to-bottom bands split at lines that cross the gutter: a title above two columns is
    read first, the columns below it next, each from its top."""
    ordered = sorted(boxes, key=lambda b: (b.y0, b.x0))
    if gutter is None:
        return [ordered]
    bands: list[list[OcrBox]] = [[]]
    for box in ordered:
        if box.x0 < gutter < box.x1:
            bands.extend([[box], []])
        else:
            bands[-1].append(box)
    return [band for band in bands if band]


def _column_text(boxes: list[OcrBox]) -> list[str]:
    """Boxes of one column -> paragraphs: boxes on one line joined left to right."""
    if not boxes:
        return []
    line_height = statistics.median(b.height for b in boxes)
    lines: list[list[OcrBox]] = []
    for box in sorted(boxes, key=lambda b: b.middle):
        if lines and abs(box.middle - statistics.fmean(b.middle for b in lines[-1])) < (
            line_height / 2
        ):
            lines[-1].append(box)
        else:
            lines.append([box])
    paragraphs: list[list[str]] = [[]]
    previous_bottom: float | None = None
    for line in lines:
        top = min(b.y0 for b in line)
        if previous_bottom is not None and top - previous_bottom > PARAGRAPH_GAP * line_height:
            paragraphs.append([])
        paragraphs[-1].append(_joined(sorted(line, key=lambda b: b.x0)))
        previous_bottom = max(b.y1 for b in line)
    return ["\n".join(p) for p in paragraphs if p]


def _joined(line: list[OcrBox]) -> str:
    """Boxes of one printed line; no space between two Chinese characters."""
    text = line[0].text.strip()
    for box in line[1:]:
        part = box.text.strip()
        cjk = bool(_WIDE.match(text[-1:]) and _WIDE.match(part[:1]))
        text = f"{text}{part}" if cjk else f"{text} {part}"
    return text
