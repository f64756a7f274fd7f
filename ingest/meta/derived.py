"""Fill the metadata a file does not state from what the file shows, and say so."""

from __future__ import annotations

import re
from dataclasses import fields
from pathlib import Path
from typing import Any

from retriever.records import DocMeta, Turn
from retriever.text import detect_language

LANGUAGES = {"zh-Hant": "zh-TW", "zh-Hans": "zh-CN", "zh": "zh-TW", "en": "en", "mixed": "mixed"}
DEFAULT_AUTHORITY = {"sop": "official", "manual": "official", "interview": "expert"}
_DATE_IN_NAME = re.compile(r"(?<!\d)(\d{4})-(\d{2})-(\d{2})(?!\d)")
_META_FIELDS = {f.name for f in fields(DocMeta)}


def with_defaults(
    given: dict[str, Any], path: Path, format_title: str | None, text: str, turns: tuple[Turn, ...]
) -> tuple[str, DocMeta]:
    """(title, metadata); `DocMeta.defaulted` lists every field that was derived."""
    values = {k: v for k, v in given.items() if k in _META_FIELDS}
    derived = _derived(values, path, text, turns)
    defaulted = [name for name in derived if name not in values]
    title = given.get("title")
    if title is None:
        title = format_title or path.stem
        defaulted.append("title")
    meta = DocMeta(**{**derived, **values, "defaulted": tuple(sorted(defaulted))})
    return str(title), meta


def _derived(
    values: dict[str, Any], path: Path, text: str, turns: tuple[Turn, ...]
) -> dict[str, Any]:
    doc_type = values.get("doc_type") or ("interview" if turns else "document")
    derived: dict[str, Any] = {"doc_id": path.stem, "doc_type": doc_type}
    language = LANGUAGES.get(detect_language(text))
    if language:
        derived["language"] = language
    if doc_type in DEFAULT_AUTHORITY:
        derived["authority"] = DEFAULT_AUTHORITY[doc_type]
    if turns:
        expert = next((t.speaker for t in turns if t.speaker and not t.is_interviewer), None)
        if expert:
            derived["interviewee"] = expert
        match = _DATE_IN_NAME.search(path.name)
        if match:
            derived["date"] = "-".join(match.groups())
    return derived
