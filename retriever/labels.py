"""Human-readable citation labels built from a passage's structure.

SOPs read `{doc_id} rev {revision} §{section} step {n} (p. {page})` (`(slide {n})` for a deck,
`row {r}` for a sheet, `[OCR]` when read from a scan); interviews read
`{title}, {date}, {speaker} {start}–{end}`. Missing parts are left out, never invented.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from retriever.records import Citation

_SECTION_NUMBER = re.compile(
    r"^(?:(?:section|chapter|part)\s+)?(\d+(?:\.\d+)*)(?:[.、．)]|\s|$)"
    r"|^([一二三四五六七八九十]+)、|^第([一二三四五六七八九十\d]+)[章節节]",
    re.IGNORECASE,
)
MAX_SECTION_CHARS = 40


def citation_label(citation: Citation) -> str:
    label = _structured_label(citation)
    return f"{label} [superseded]" if citation.superseded else label


def _structured_label(citation: Citation) -> str:
    if citation.doc_type == "interview" or citation.speaker or citation.start:
        return _interview_label(citation)
    parts = [citation.doc_id]
    if citation.revision:
        parts.append(f"rev {citation.revision}")
    if citation.section:
        parts.append(f"§{section_number(citation.section)}")
    if citation.step:
        parts.append(f"step {citation.step}")
    if citation.rows:
        parts.append(f"{'rows' if '–' in citation.rows else 'row'} {citation.rows}")
    if citation.page is not None:
        parts.append(f"({page_name(citation.kind)} {citation.page})")
    if citation.ocr:
        parts.append("[OCR]")
    return " ".join(parts)


def page_name(kind: str | None) -> str:
    return "slide" if kind == "pptx" else "p."


def section_number(section: str) -> str:
    """'4' for a section path ending in '4. 調機步驟'; the heading itself when unnumbered."""
    heading = section.rsplit(" > ", 1)[-1].strip()
    match = _SECTION_NUMBER.match(heading)
    if match:
        return next(group for group in match.groups() if group)
    return f" {heading[:MAX_SECTION_CHARS]}"


def _interview_label(citation: Citation) -> str:
    parts = [citation.title]
    if citation.date and citation.date not in citation.title:
        parts.append(citation.date)
    who = citation.speaker or ""
    if citation.start:
        span = citation.start if not citation.end else f"{citation.start}–{citation.end}"
        who = f"{who} {span}".strip()
    if who:
        parts.append(who)
    label = ", ".join(p for p in parts if p)
    if citation.page is not None:
        label += f" ({page_name(citation.kind)} {citation.page})"
    return label
