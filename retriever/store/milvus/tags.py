"""Metadata filters and access groups as Milvus filter expressions.

User input never becomes expression text: every filter value and access group is stored and
queried as a fixed-width hex digest of (field, value), so an expression holds only field names
from the allow-list, hex strings, integers and `true`/`false`. A quote, backslash or operator in a
value changes its digest, not the expression.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Protocol

from retriever.filters import FILTERABLE_FIELDS, check_filters
from retriever.records import DocMeta


class Described(Protocol):
    """A Document being ingested or a DocumentRow being migrated."""

    @property
    def doc_id(self) -> str: ...

    @property
    def meta(self) -> DocMeta: ...

    @property
    def source(self) -> str: ...

    @property
    def kind(self) -> str: ...


PUBLIC = "public"  # the access entry of a document without groups (a digest is never this)
MAX_TAGS = 2 * len(FILTERABLE_FIELDS)
MAX_GROUPS = 256  # access groups one document may name in Milvus


def tag(field_name: str, value: str) -> str:
    return hashlib.blake2b(f"{field_name}\x00{value}".encode(), digest_size=8).hexdigest()


def filter_values(doc: Described) -> dict[str, str | None]:
    """The filterable values of a document, named as in the metadata database."""
    meta = doc.meta
    return {
        "doc_id": doc.doc_id, "doc_type": meta.doc_type, "authority": meta.authority,
        "language": meta.language, "line": meta.line, "station": meta.station,
        "equipment": meta.equipment, "revision": meta.revision, "source": doc.source,
        "kind": doc.kind,
    }  # fmt: skip


def document_tags(doc: Described) -> list[str]:
    values = filter_values(doc)
    return [tag(name, str(values[name])) for name in FILTERABLE_FIELDS if values[name] is not None]


def access_tags(groups: Sequence[str]) -> list[str]:
    if len(groups) > MAX_GROUPS:
        raise ValueError(f"a document may name at most {MAX_GROUPS} access groups in Milvus")
    return [tag("access", g) for g in groups] or [PUBLIC]


def expression(
    filters: Mapping[str, Sequence[str]],
    include_superseded: bool,
    groups: Sequence[str] | None,
    below_id: int,
) -> str:
    """The Milvus filter of one query. `below_id` keeps out chunks a writer has added but not
    yet committed (chunk ids only grow)."""
    clauses = [f"id < {int(below_id)}"]
    check_filters(filters)
    for name, values in sorted(filters.items()):
        clauses.append(_contains_any("tags", [tag(name, str(v)) for v in values]))
    if not include_superseded:
        clauses.append("superseded == false")
    if groups is not None:
        clauses.append(_contains_any("access", [PUBLIC, *(tag("access", g) for g in groups)]))
    return " and ".join(clauses)


def _contains_any(field_name: str, digests: Sequence[str]) -> str:
    # digests are hex or PUBLIC, so quoting them needs no escaping
    quoted = ", ".join(f'"{d}"' for d in sorted(set(digests)))
    return f"array_contains_any({field_name}, [{quoted}])"
