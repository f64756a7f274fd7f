"""The MCP tools an AI agent calls: `search`, `get_document`, `list_facets`, `glossary_lookup`.

Each call is answered as the caller's key may (the same roles, access groups and limits as the
REST API, through the same functions), logged with its key id and counted. `mcp_edge.py` serves
these tools over streamable HTTP at /mcp and over stdio.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import Field

from retriever.filters import FilterError
from retriever.ranking.modes import SearchError
from retriever.records import Passage
from retriever.store.errors import StoreError
from service.answering import QuestionError, answer, expansion_rows
from service.api_documents import revisions_body, visible_revisions
from service.api_glossary import term_body
from service.api_page import FACETS
from service.auth import Principal
from service.mcp_schemas import (
    CitedPassage,
    FacetsOut,
    SearchOut,
    TermsOut,
    cited,
)
from service.observability import Metrics
from service.runtime import Runtime
from service.schemas import (
    DocumentRevisions,
    ExpansionOut,
    FilterMap,
    ModeField,
    QuestionField,
    TopK,
)
from service.security import AuthError, visible_groups

logger = logging.getLogger("shifu.mcp")
INSTRUCTIONS = (
    "Shifu answers questions about this plant's SOPs and expert interviews with cited "
    "passages. Call `search` with the question as the operator asked it (Chinese, English or "
    "both); quote passages by their `label` and prefer official (SOP) authority over expert "
    "notes when they disagree. A superseded passage is an old revision: say so if you use it."
)

# who is calling this tool call, and where links to originals point (None: no links)
PrincipalOf = Callable[[Context], Principal]
LinkBase = Callable[[Context], str | None]


def build_server(
    runtime: Runtime, principal_of: PrincipalOf, link_base: LinkBase, metrics: Metrics | None
) -> MCPServer:
    """An MCPServer with Shifu's tools, answering as `principal_of` says the caller is."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    server = MCPServer("shifu", instructions=INSTRUCTIONS, version="0.1.0", log_level="WARNING")
    # the SDK configures the root logger (a rich handler); the process owns its logging, and
    # libraries' debug lines would otherwise reach stderr
    root.handlers[:], root.level = handlers, level
    calls = _Calls(principal_of, metrics)
    _add_search(server, runtime, calls, link_base, metrics)
    _add_lookups(server, runtime, calls)
    return server


class _Calls:
    """Each tool call: who calls (or refused), what the service refused as a tool error with
    its message, and a log line and a count either way."""

    def __init__(self, principal_of: PrincipalOf, metrics: Metrics | None) -> None:
        self.principal_of, self.metrics = principal_of, metrics

    @contextmanager
    def __call__(self, tool: str, ctx: Context) -> Iterator[Principal]:
        began, outcome, key_id = time.perf_counter(), "ok", None
        try:
            principal = self.principal_of(ctx)
            key_id = principal.key_id
            yield principal
        except ToolError:
            outcome = "refused"
            raise
        except (AuthError, QuestionError, SearchError, FilterError, StoreError) as exc:
            outcome = "refused"
            raise ToolError(str(exc)) from exc
        except Exception:
            outcome = "error"
            raise
        finally:
            if self.metrics is not None:
                self.metrics.mcp_calls.labels(tool, outcome).inc()
            logger.info("mcp call", extra={"fields": {
                "tool": tool, "outcome": outcome, "key_id": key_id,
                "ms": round((time.perf_counter() - began) * 1000, 1)}})  # fmt: skip


def _add_search(
    server: MCPServer, runtime: Runtime, call: _Calls, link_base: LinkBase,
    metrics: Metrics | None,
) -> None:  # fmt: skip
    @server.tool(description=(
        "Search the plant's SOPs and expert interviews. Returns the best passages, each with a "
        "citation label to quote (document, revision, section, SOP step, page, or the "
        "interview's speaker and time), its highlighted sentence, authority (official or "
        "expert), a superseded flag and a link that opens the original at its page or passage."
    ))  # fmt: skip
    def search(
        question: QuestionField,
        ctx: Context,
        k: TopK = 5,
        mode: ModeField = "hybrid",
        filters: FilterMap = None,
        include_superseded: Annotated[
            bool, Field(description="also rank superseded revisions (flagged as such)")
        ] = False,
    ) -> SearchOut:
        with call("search", ctx) as principal:
            began = time.perf_counter()
            result = answer(runtime, principal, question, k, mode, filters or {},
                            include_superseded)  # fmt: skip
            if metrics is not None:  # the same query counters as the REST API's
                metrics.queries.labels(mode).inc()
                metrics.query_seconds.labels(mode).observe(time.perf_counter() - began)
            passages = _cited(runtime, result.passages, link_base(ctx))
            expansions = [ExpansionOut.model_validate(row)
                          for row in expansion_rows(result.expansions)]  # fmt: skip
            return SearchOut(question=question.strip(), mode=result.mode, passages=passages,
                             expansions=expansions)  # fmt: skip


def _add_lookups(server: MCPServer, runtime: Runtime, call: _Calls) -> None:
    @server.tool(description=(
        "A document's metadata and every revision the caller may see (revision, effective "
        "date, superseded, type, authority, line, station, equipment, pages, chunks)."
    ))  # fmt: skip
    def get_document(
        doc_id: Annotated[str, Field(min_length=1, max_length=200,
                                     description="the doc_id a search result cites")],
        ctx: Context,
    ) -> DocumentRevisions:  # fmt: skip
        with call("get_document", ctx) as principal:
            rows = visible_revisions(runtime, principal, doc_id)
            if not rows:  # the same answer for a document outside the caller's groups
                raise ToolError(f"no document {doc_id!r}")
            return DocumentRevisions.model_validate(revisions_body(doc_id, rows))

    @server.tool(description=(
        "The values the `filters` of `search` can take: doc_type, line, station, equipment."
    ))  # fmt: skip
    def list_facets(ctx: Context) -> FacetsOut:
        with call("list_facets", ctx) as principal, runtime.reading() as snapshot:
            return FacetsOut(facets=snapshot.facets(FACETS, visible_groups(principal)))

    @server.tool(description=(
        "Look a plant term up in the bilingual glossary (中英對照術語表): given terms and terms "
        "mined from the documents, in Chinese or English, with synonyms and evidence."
    ))  # fmt: skip
    def glossary_lookup(
        term: Annotated[str, Field(min_length=1, max_length=100,
                                   description="a word or phrase, Chinese or English")],
        ctx: Context,
        limit: Annotated[int, Field(ge=1, le=50, description="terms to return")] = 10,
    ) -> TermsOut:  # fmt: skip
        with call("glossary_lookup", ctx) as principal:
            terms = runtime.glossary(visible_groups(principal)).terms
            found = [t for t in terms if _names(term, (t.zh, t.en, *t.synonyms))][:limit]
            return TermsOut.model_validate({"terms": [term_body(t) for t in found]})


def _names(wanted: str, names: tuple[str, ...]) -> bool:
    """A term matches where the looked-up word is part of one of its names, in any case."""
    needle = wanted.strip().casefold()
    return bool(needle) and any(needle in name.casefold() for name in names)


def _cited(runtime: Runtime, passages: list[Passage], base: str | None) -> list[CitedPassage]:
    """Compact passages; a link needs the stored file each came from (none where an ingest
    has just removed it)."""
    with runtime.reading() as snapshot:
        rows = snapshot.chunk_rows([p.chunk_id for p in passages])
    keys = {chunk_id: row.document.key for chunk_id, row in rows.items()}
    home = runtime.settings.home
    return [cited(p, home, base, keys.get(p.chunk_id)) for p in passages]
