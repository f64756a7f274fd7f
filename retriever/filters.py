"""Metadata filters: the fields a query or a document listing may filter on, and the one check
of a filter that every caller (search, the documents route, SQL, Milvus expressions) runs."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

FILTERABLE_FIELDS = ("doc_id", "doc_type", "authority", "language", "line", "station",
                     "equipment", "revision", "source", "kind")  # fmt: skip

Filters = Mapping[str, Sequence[str]]  # field -> values, any of which matches


class FilterError(ValueError):
    """A filter on a field no document has, or with no value."""


def check_fields(names: Iterable[str]) -> None:
    """Field names become SQL and Milvus identifiers, so only the allow-list passes."""
    unknown = sorted(set(names) - set(FILTERABLE_FIELDS))
    if unknown:
        raise FilterError(f"cannot filter on {unknown}; filter on any of {list(FILTERABLE_FIELDS)}")


def check_filters(filters: Filters | None) -> None:
    check_fields(filters or {})
    empty = sorted(name for name, values in (filters or {}).items() if not values)
    if empty:
        raise FilterError(f"filter {empty} has no value")
