"""Build the BEIR-layout evaluation set of a sample corpus from authored questions.

Questions (YAML) pin each answer to a document revision and a snippet of its text; the corpus
is cut into the units an answer is judged at, one SOP step, one run of section text, or one
interview exchange, by the same structure parser ingest uses. Writing the set from the files
keeps qrels true when a document is edited, and fails loudly when a snippet no longer fits.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ingest.chunking.document import UNCHUNKED_KINDS, document_blocks
from ingest.chunking.turns import exchanges
from ingest.datasets.beir import write_beir
from ingest.loaders.files import discover, load_document
from retriever.lazy import require
from retriever.records import Document

_SPACE = re.compile(r"\s+")
META_FIELDS = ("doc_id", "revision", "effective_date", "doc_type", "authority", "language")


class EvalSetError(ValueError):
    """A question cannot be pinned to exactly one unit of the corpus."""


@dataclass(frozen=True)
class Unit:
    corpus_id: str
    doc_id: str
    revision: str | None
    title: str
    text: str
    metadata: dict[str, str]


def corpus_units(corpus: Path) -> list[Unit]:
    found = discover([corpus])
    files = found.files
    if found.missing:
        raise EvalSetError(f"no such folder {corpus}")
    units: list[Unit] = []
    for file in files:
        document = load_document(file, file.path.read_bytes(), file.source).document
        if document.kind not in UNCHUNKED_KINDS:  # a glossary translates; it answers nothing
            units.extend(_units(document))
    return units


def _units(doc: Document) -> list[Unit]:
    spans: list[tuple[int, int, str | None]]
    if doc.turns:
        spans = [(doc.turns[g[0]].char_start, doc.turns[g[-1]].char_end, None)
                 for g in exchanges(doc.turns)]  # fmt: skip
    else:
        spans = _structure_spans(doc)
    meta = {f: str(getattr(doc.meta, f)) for f in META_FIELDS if getattr(doc.meta, f)}
    revision = doc.meta.revision
    prefix = f"{doc.doc_id}@{revision}" if revision else doc.doc_id
    units = []
    for n, (start, end, section) in enumerate(spans, start=1):
        title = f"{doc.title} > {section.rsplit(' > ', 1)[-1]}" if section else doc.title
        text = doc.text[start:end].strip()
        units.append(Unit(f"{prefix}#{n:02d}", doc.doc_id, revision, title, text, meta))
    return units


def _structure_spans(doc: Document) -> list[tuple[int, int, str | None]]:
    """Each step is a unit, and so is each run of section text between steps; headings are
    left to the titles."""
    blocks = document_blocks(doc)
    spans: list[tuple[int, int, str | None]] = []
    previous: tuple[str | None, str | None] | None = None
    for block in blocks:
        if block.is_heading:
            previous = None
            continue
        here = (block.section, block.step)
        if here == previous and not (block.step is None and block.breaks_before):
            spans[-1] = (spans[-1][0], block.end, block.section)
        else:
            spans.append((block.start, block.end, block.section))
        previous = here
    return spans


def load_questions(folder: Path) -> list[dict[str, Any]]:
    yaml = require("yaml", "pyyaml")
    questions: list[dict[str, Any]] = []
    for path in sorted(folder.glob("*.yaml")):
        items = yaml.safe_load(path.read_text(encoding="utf-8")) or []
        if not isinstance(items, list):
            raise EvalSetError(f"{path}: expected a list of questions")
        questions.extend(items)
    return questions


def qrels_for(question: dict[str, Any], units: list[Unit]) -> dict[str, int]:
    judged: dict[str, int] = {}
    for answer in question.get("answers") or []:
        rev = str(answer["rev"]) if answer.get("rev") is not None else None
        snippet = _SPACE.sub("", str(answer["contains"]))
        found = [u for u in units if u.doc_id == answer["doc"] and u.revision == rev
                 and snippet in _SPACE.sub("", u.text)]  # fmt: skip
        if len(found) != 1:
            raise EvalSetError(
                f"question {question['id']}: {answer['doc']} rev {rev} has {len(found)} units "
                f"containing {answer['contains']!r}; expected exactly one"
            )
        judged[found[0].corpus_id] = max(judged.get(found[0].corpus_id, 0), int(answer["grade"]))
    if not any(grade >= 2 for grade in judged.values()):
        raise EvalSetError(f"question {question['id']} has no answer of grade 2")
    return judged


def write_eval_set(corpus: Path, questions_dir: Path, out: Path) -> tuple[int, int]:
    """Write corpus.jsonl, queries.jsonl and qrels/test.tsv; (units, questions)."""
    units = corpus_units(corpus)
    questions = load_questions(questions_dir)
    qrels = {str(q["id"]): qrels_for(q, units) for q in questions}
    write_beir(
        out,
        [{"_id": u.corpus_id, "title": u.title, "text": u.text, "metadata": u.metadata}
         for u in units],
        [{"_id": str(q["id"]), "text": q["text"],
          "metadata": {"type": q["type"], "kind": q["kind"]}} for q in questions],
        [(qid, cid, grade) for qid, judged in qrels.items() for cid, grade in judged.items()],
    )  # fmt: skip
    return len(units), len(questions)
