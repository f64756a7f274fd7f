"""One owner for answering a question at the edge: the REST route, `shifu query` and the MCP
`search` tool check the question the same way and search with the caller's access groups."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from retriever.bm25.translation import Expansion
from retriever.ranking.modes import DEFAULT_MODE
from retriever.ranking.search import SearchResult
from service.auth import Principal
from service.runtime import Runtime
from service.security import visible_groups


class QuestionError(ValueError):
    """A question the service refuses: empty, or longer than the limit (a 4xx, a tool error)."""


def checked_question(question: str, limit: int) -> str:
    """The question without surrounding space, or QuestionError. The limit counts what was
    sent, space included, as the API's schema states it (maxLength)."""
    if len(question) > limit:
        raise QuestionError(f"question is {len(question)} characters; the limit is {limit}")
    stripped = question.strip()
    if not stripped:
        raise QuestionError("question is empty")
    return stripped


def as_lists(filters: Mapping[str, str | Sequence[str]]) -> dict[str, list[str]]:
    """A filter value may be one string or a list of them (any of which matches)."""
    return {key: [value] if isinstance(value, str) else list(value)
            for key, value in filters.items()}  # fmt: skip


def answer(
    runtime: Runtime,
    principal: Principal,
    question: str,
    k: int,
    mode: str = DEFAULT_MODE,
    filters: Mapping[str, str | Sequence[str]] | None = None,
    include_superseded: bool = False,
) -> SearchResult:
    """Search as `principal` may: a reader sees only the documents of its access groups."""
    checked = checked_question(question, runtime.settings.max_question_chars)
    return runtime.query(checked, k, mode, as_lists(filters or {}), include_superseded,
                         visible_groups(principal))  # fmt: skip


def expansion_rows(expansions: Sequence[Expansion]) -> list[dict[str, object]]:
    """The question's words searched in the other language, as every edge reports them."""
    return [{"term": e.term, "translations": list(e.translations),
             "source": e.source} for e in expansions]  # fmt: skip
