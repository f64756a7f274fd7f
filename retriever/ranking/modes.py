"""The retrieval modes: one vocabulary that search, evaluation, the API schemas and the CLI
share, with what each mode runs.

`dense` (the embedder over the vector backend), `bm25` (bm25s), `hybrid` (z-score fusion of the
two, the default), `hybrid-rrf` (reciprocal rank fusion instead, for comparison),
`hybrid+rerank` (hybrid, then a cross-encoder over the fused top, when one is configured).
"""

from __future__ import annotations

from typing import Literal, cast, get_args

Mode = Literal["dense", "bm25", "hybrid", "hybrid-rrf", "hybrid+rerank"]
MODES: tuple[Mode, ...] = get_args(Mode)
DEFAULT_MODE: Mode = "hybrid"
RERANKED: Mode = "hybrid+rerank"


class SearchError(ValueError):
    """The request cannot be served as asked (unknown mode, no reranker configured)."""


def check_mode(mode: str, has_reranker: bool) -> Mode:
    """The mode, when it is one and can run here."""
    if mode not in MODES:
        raise SearchError(f"unknown mode {mode!r}; choose from {list(MODES)}")
    if mode == RERANKED and not has_reranker:
        raise SearchError(f"mode {RERANKED!r} needs a reranker: set SHIFU_RERANKER to a folder")
    return cast(Mode, mode)


def available_modes(has_reranker: bool) -> list[Mode]:
    """The modes `check_mode` lets through here (what the API document offers)."""
    return [mode for mode in MODES if has_reranker or mode != RERANKED]


def reranks(mode: str) -> bool:
    return mode == RERANKED


def base_mode(mode: Mode) -> Mode:
    """The retrieval a mode runs before any reranking."""
    return "hybrid" if reranks(mode) else mode


def needs_vectors(mode: Mode) -> bool:
    """Whether the questions must be embedded (a model call) for this mode."""
    return base_mode(mode) != "bm25"


def described() -> str:
    """The modes for a help text: 'dense, bm25, hybrid, hybrid-rrf or hybrid+rerank'."""
    return f"{', '.join(MODES[:-1])} or {MODES[-1]}"
