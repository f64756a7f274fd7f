"""The WHERE clauses over the documents table that every metadata query shares: metadata
filters (field names from the one allow-list, values always bound), revisions, access groups."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from retriever.filters import check_filters


def document_sql(
    filters: Mapping[str, Sequence[str]],
    include_superseded: bool,
    groups: Sequence[str] | None,
) -> tuple[str, list[str]]:
    """The WHERE clause over documents `d`: metadata filters, revisions, access groups. A
    document without access groups is visible to all; else one group must be shared."""
    clauses, params = filter_sql(filters)
    if not include_superseded:
        clauses.append("d.superseded = 0")
    if groups is not None:
        marks = ",".join("?" * len(groups))
        shared = f" OR EXISTS (SELECT 1 FROM json_each(d.access) WHERE value IN ({marks}))"
        clauses.append(f"(d.access = '[]'{shared if groups else ''})")
        params.extend(groups)
    return " AND ".join(clauses) or "1", params


def filter_sql(filters: Mapping[str, Sequence[str]]) -> tuple[list[str], list[str]]:
    clauses: list[str] = []
    params: list[str] = []
    check_filters(filters)
    for field_name, values in filters.items():
        # field names come from the allow-list; values are always bound parameters
        clauses.append(f"d.{field_name} IN ({','.join('?' * len(values))})")
        params.extend(str(v) for v in values)
    return clauses, params
