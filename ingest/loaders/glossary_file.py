"""A plant glossary file (中英對照術語表): CSV or YAML rows of a Chinese term, its English term,
synonyms in either language and an optional scope (a line, a machine). It is ingested like a
document, so it is versioned with the index generation, but it is not chunked: its terms
translate questions instead of answering them.

A file is a glossary by its name: `glossary.csv`, `plant-glossary.yaml`, `術語表.csv`. A row
without both terms is reported and skipped; a file with no usable row is refused.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import Any

import yaml

from ingest.loaders.decode import decode_text
from ingest.loaders.extracted import Extracted
from retriever.glossary import Term
from retriever.text import script_of

GLOSSARY_SUFFIXES = (".csv", ".yaml", ".yml")
_NAMED = re.compile(r"glossary|terminology|術語|术语|詞彙表|词汇表", re.IGNORECASE)
_COLUMNS = {
    "zh": ("zh", "chinese", "中文", "術語", "术语", "中文術語"),
    "en": ("en", "english", "英文", "英文術語"),
    "synonyms": ("synonyms", "synonym", "aliases", "同義詞", "同义词", "別名", "别名"),
    "scope": ("scope", "line", "equipment", "範圍", "范围", "適用"),
}
_SPLIT = re.compile(r"\s*[;；|、]\s*")


class GlossaryError(ValueError):
    """The file holds no usable glossary row."""


def is_glossary(path: Path) -> bool:
    return path.suffix.lower() in GLOSSARY_SUFFIXES and bool(_NAMED.search(path.stem))


def glossary_document(path: Path, data: bytes) -> Extracted:
    """The file's terms, and a page listing them (what the documents API shows)."""
    text, _ = decode_text(data)
    rows = _yaml_rows(text) if path.suffix.lower() != ".csv" else _csv_rows(text)
    terms: list[Term] = []
    warnings: list[str] = []
    for number, row in rows:
        term = _term(row)
        if isinstance(term, str):
            warnings.append(f"glossary row {number} skipped: {term}")
        else:
            terms.append(term)
    if not terms:
        raise GlossaryError("no glossary row with both a Chinese and an English term")
    page = "\n".join(_line(t) for t in terms)
    return Extracted([page], path.stem, kind="glossary", warnings=tuple(warnings),
                     terms=tuple(terms))  # fmt: skip


def _csv_rows(text: str) -> list[tuple[int, dict[str, str]]]:
    reader = csv.reader(io.StringIO(text))
    lines = [(n, row) for n, row in enumerate(reader, start=1) if any(c.strip() for c in row)]
    if not lines:
        return []
    header = [_column(cell) for cell in lines[0][1]]
    if "zh" not in header or "en" not in header:  # no header: zh, en, synonyms, scope
        header = ["zh", "en", "synonyms", "scope"]
    else:
        lines = lines[1:]
    return [(n, {h: c for h, c in zip(header, row, strict=False) if h}) for n, row in lines]


def _yaml_rows(text: str) -> list[tuple[int, dict[str, Any]]]:
    try:
        loaded = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise GlossaryError(f"not valid YAML: {exc}") from exc
    if isinstance(loaded, dict):
        loaded = loaded.get("terms", [])
    if not isinstance(loaded, list):
        raise GlossaryError("a YAML glossary is a list of terms (or 'terms:' and a list)")
    rows = []
    for number, item in enumerate(loaded, start=1):
        fields = {_column(str(k)): v for k, v in item.items()} if isinstance(item, dict) else {}
        rows.append((number, {k: v for k, v in fields.items() if k}))
    return rows


def _column(name: str) -> str | None:
    wanted = name.strip().lower()
    return next((key for key, names in _COLUMNS.items() if wanted in names), None)


def _term(row: dict[str, Any]) -> Term | str:
    """The row's term, or why it is not one."""
    zh, en = str(row.get("zh") or "").strip(), str(row.get("en") or "").strip()
    if not zh or not en:
        return "it needs both a Chinese and an English term"
    if script_of(zh) != "zh":
        return f"the Chinese term {zh!r} has no Chinese characters"
    synonyms = row.get("synonyms") or []
    names = synonyms if isinstance(synonyms, list) else _SPLIT.split(str(synonyms))
    cleaned = (str(n).strip() for n in names)
    kept = tuple(dict.fromkeys(s for s in cleaned if s and s not in (zh, en)))
    scope = str(row.get("scope") or "").strip() or None
    return Term(zh, en, kept, scope)


def _line(term: Term) -> str:
    synonyms = f" ({', '.join(term.synonyms)})" if term.synonyms else ""
    scope = f" [{term.scope}]" if term.scope else ""
    return f"{term.zh} = {term.en}{synonyms}{scope}"


EXPORT_COLUMNS = ("zh", "en", "synonyms", "scope", "origin", "confidence", "evidence")


def glossary_csv(terms: list[Term]) -> str:
    """Terms as a glossary CSV that ingests back (origin, confidence and evidence are extra
    columns the reader ignores): what `shifu glossary export` writes."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(EXPORT_COLUMNS)
    for term in terms:
        evidence = "; ".join(f"{e.doc_id}:{e.count}" for e in term.evidence)
        writer.writerow([term.zh, term.en, "; ".join(term.synonyms), term.scope or "",
                         term.origin, f"{term.confidence:g}", evidence])  # fmt: skip
    return out.getvalue()


def with_term(existing: bytes | None, term: Term) -> str:
    """A glossary CSV's text with `term` added, or replacing the row of the same pair."""
    rows = _csv_rows(decode_text(existing)[0]) if existing else []
    kept = [t for t in (_term(r) for _, r in rows) if isinstance(t, Term)]
    kept = [t for t in kept if (t.zh, t.en.lower()) != (term.zh, term.en.lower())]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(("zh", "en", "synonyms", "scope"))
    for row in [*kept, term]:
        writer.writerow([row.zh, row.en, "; ".join(row.synonyms), row.scope or ""])
    return out.getvalue()


def checked_term(zh: str, en: str, synonyms: list[str], scope: str | None) -> Term:
    """A term a user typed, checked as a file's row is; GlossaryError says what is wrong."""
    term = _term({"zh": zh, "en": en, "synonyms": synonyms, "scope": scope})
    if isinstance(term, str):
        raise GlossaryError(term)
    return term
