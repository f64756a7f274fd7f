"""BEIR-layout retrieval sets (corpus.jsonl, queries.jsonl, qrels/test.tsv), validated strictly.

Every problem names the file and line, because a silently skipped judgement skews a metric.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ingest.loaders.glossary_file import GlossaryError, glossary_document, is_glossary
from ingest.meta.given import MetaError, checked
from retriever.fsutil import file_sha256
from retriever.glossary import Term
from retriever.records import DocMeta, Document


class DatasetError(ValueError):
    def __init__(self, path: Path, line: int | None, message: str) -> None:
        where = f"{path}:{line}" if line is not None else str(path)
        super().__init__(f"{where}: {message}")


@dataclass(frozen=True)
class CorpusEntry:
    corpus_id: str
    title: str
    text: str
    meta: DocMeta = field(default_factory=DocMeta)  # the entry's optional "metadata"


@dataclass(frozen=True)
class Query:
    query_id: str
    text: str
    metadata: dict[str, Any]


@dataclass(frozen=True)
class BeirDataset:
    name: str
    corpus: list[CorpusEntry]
    queries: list[Query]  # judged queries only, in file order
    qrels: dict[str, dict[str, int]]  # query id -> corpus id -> grade
    corpus_hash: str
    unjudged_queries: int
    glossary: tuple[Term, ...] = ()  # a glossary file beside the corpus (glossary.csv), if any
    glossary_hash: str | None = None


def load_beir(folder: Path, split: str = "test", glossary: Path | None = None) -> BeirDataset:
    """The set in `folder`; its terms from `glossary`, else a glossary file in the folder."""
    corpus_path = folder / "corpus.jsonl"
    corpus = [_corpus_entry(corpus_path, n, row) for n, row in _jsonl(corpus_path)]
    if not corpus:
        raise DatasetError(corpus_path, None, "corpus is empty")
    ids = _unique_ids(corpus_path, [e.corpus_id for e in corpus])
    queries_path = folder / "queries.jsonl"
    all_queries = [_query(queries_path, n, row) for n, row in _jsonl(queries_path)]
    _unique_ids(queries_path, [q.query_id for q in all_queries])
    qrels = _qrels(folder / "qrels" / f"{split}.tsv", ids, {q.query_id for q in all_queries})
    judged = [q for q in all_queries if q.query_id in qrels]
    if not judged:
        raise DatasetError(queries_path, None, f"no query has a positive judgement in {split}")
    terms, glossary_hash = _glossary(folder, glossary)
    return BeirDataset(
        name=folder.resolve().name,
        corpus=corpus,
        queries=judged,
        qrels=qrels,
        corpus_hash=file_sha256(corpus_path),
        unjudged_queries=len(all_queries) - len(judged),
        glossary=terms,
        glossary_hash=glossary_hash,
    )


def _glossary(folder: Path, given: Path | None) -> tuple[tuple[Term, ...], str | None]:
    """The terms of the given glossary file, else of the one beside the corpus (the first by
    name), if there is one."""
    found = [given] if given else sorted(p for p in folder.iterdir() if is_glossary(p))
    if not found:
        return (), None
    try:
        data = found[0].read_bytes()
        terms = glossary_document(found[0], data).terms
    except OSError as exc:
        raise DatasetError(found[0], None, f"cannot read: {exc.strerror}") from exc
    except GlossaryError as exc:
        raise DatasetError(found[0], None, str(exc)) from exc
    return terms, hashlib.sha256(data).hexdigest()


def corpus_documents(dataset: BeirDataset) -> Iterator[Document]:
    """Corpus entries as documents, so evaluation chunks them exactly like ingest does (the title
    reaches every chunk as its context, as a file's title does)."""
    for entry in dataset.corpus:
        text = entry.text if entry.text.strip() else entry.title
        yield Document(
            key=entry.corpus_id,
            title=entry.title,
            source=entry.corpus_id,
            path=f"beir:{dataset.name}/{entry.corpus_id}",
            content_hash=hashlib.sha256(text.encode("utf-8")).hexdigest(),
            kind="text",
            pages=(text,),
            meta=entry.meta,
        )
    if dataset.glossary:
        path = f"beir:{dataset.name}/glossary"
        yield Document(key="glossary", title="glossary", source="glossary", path=path,
                       content_hash=dataset.glossary_hash or "", kind="glossary", pages=("",),
                       terms=dataset.glossary)  # fmt: skip


def write_beir(
    folder: Path,
    corpus: list[dict[str, Any]],
    queries: list[dict[str, Any]],
    qrels: list[tuple[str, str, int]],
) -> None:
    """corpus.jsonl, queries.jsonl and qrels/test.tsv, in the layout `load_beir` reads."""
    (folder / "qrels").mkdir(parents=True, exist_ok=True)
    for name, rows in (("corpus.jsonl", corpus), ("queries.jsonl", queries)):
        lines = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
        (folder / name).write_text(lines, encoding="utf-8")
    judged = "".join(f"{qid}\t{cid}\t{grade}\n" for qid, cid, grade in qrels)
    (folder / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\n" + judged, "utf-8")


def _jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    if not path.is_file():
        raise DatasetError(path, None, "missing file")
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DatasetError(path, number, f"invalid JSON ({exc.msg})") from exc
            if not isinstance(row, dict):
                raise DatasetError(path, number, "expected a JSON object")
            yield number, row


def _corpus_entry(path: Path, line: int, row: dict[str, Any]) -> CorpusEntry:
    corpus_id, text = _field(path, line, row, "_id"), row.get("text")
    title = row.get("title") or ""
    if not isinstance(text, str) or not (text.strip() or str(title).strip()):
        raise DatasetError(path, line, f"corpus entry {corpus_id!r} has no text")
    return CorpusEntry(corpus_id, str(title), text, _entry_meta(path, line, row))


def _entry_meta(path: Path, line: int, row: dict[str, Any]) -> DocMeta:
    """Revision metadata lets an evaluation leave superseded revisions out, as search does."""
    metadata = row.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise DatasetError(path, line, "metadata must be a JSON object")
    try:
        given = checked(metadata).values
    except MetaError as exc:
        raise DatasetError(path, line, str(exc)) from exc
    given.pop("title", None)
    return DocMeta(**given)


def _query(path: Path, line: int, row: dict[str, Any]) -> Query:
    query_id, text = _field(path, line, row, "_id"), row.get("text")
    if not isinstance(text, str) or not text.strip():
        raise DatasetError(path, line, f"query {query_id!r} is empty")
    metadata = row.get("metadata") if isinstance(row.get("metadata"), dict) else {}
    return Query(query_id, text.strip(), metadata or {})


def _field(path: Path, line: int, row: dict[str, Any], name: str) -> str:
    value = row.get(name)
    if value is None or str(value).strip() == "":
        raise DatasetError(path, line, f"missing {name!r}")
    return str(value)


def _unique_ids(path: Path, ids: list[str]) -> set[str]:
    seen: set[str] = set()
    for number, item in enumerate(ids, start=1):
        if item in seen:
            raise DatasetError(path, None, f"duplicate id {item!r} (entry {number})")
        seen.add(item)
    return seen


def _qrels(path: Path, corpus_ids: set[str], query_ids: set[str]) -> dict[str, dict[str, int]]:
    if not path.is_file():
        raise DatasetError(path, None, "missing file")
    qrels: dict[str, dict[str, int]] = {}
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            parts = line.rstrip("\n").split("\t")
            if not line.strip() or (number == 1 and not parts[-1].strip().lstrip("-").isdigit()):
                continue  # blank, or the header line BEIR files start with
            query_id, corpus_id, grade = _qrel_row(path, number, parts)
            if corpus_id not in corpus_ids:
                raise DatasetError(path, number, f"unknown corpus id {corpus_id!r}")
            if query_id not in query_ids:
                raise DatasetError(path, number, f"unknown query id {query_id!r}")
            if grade > 0:
                qrels.setdefault(query_id, {})[corpus_id] = grade
    return qrels


def _qrel_row(path: Path, line: int, parts: list[str]) -> tuple[str, str, int]:
    if len(parts) == 4:  # TREC style: qid, iteration, docid, grade
        parts = [parts[0], parts[2], parts[3]]
    if len(parts) != 3:
        raise DatasetError(path, line, "expected query-id<TAB>corpus-id<TAB>score")
    try:
        return parts[0], parts[1], int(parts[2])
    except ValueError as exc:
        raise DatasetError(path, line, f"score {parts[2]!r} is not an integer") from exc


