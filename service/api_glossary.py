"""The glossary over HTTP: `GET /v1/glossary`, the terms of the live index the caller may read
(a term mined from a document outside the caller's access groups is not shown)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Query

from retriever.glossary import Origin, Term
from service.schemas import GlossaryOut
from service.security import Reader, RuntimeDep, visible_groups

router = APIRouter(prefix="/v1")


@router.get("/glossary", response_model=GlossaryOut)
def glossary(
    runtime: RuntimeDep,
    principal: Reader,
    origin: Annotated[Origin | None, Query(description="only given or only mined terms")] = None,
) -> dict[str, Any]:
    terms = runtime.glossary(visible_groups(principal)).terms
    shown = [t for t in terms if origin is None or t.origin == origin]
    return {
        "given": sum(t.origin == "given" for t in terms),
        "mined": sum(t.origin == "mined" for t in terms),
        "terms": [term_body(t) for t in shown],
    }


def term_body(term: Term) -> dict[str, Any]:
    """A term as the API and the MCP `glossary_lookup` tool give it."""
    return {**asdict(term), "translates": term.translates}
