"""Removing the zh/en language direction from embeddings, for cross-lingual retrieval.

A multilingual encoder places Chinese and English texts on two sides of a language direction,
so a Chinese question ranks every Chinese passage above the English passage that answers it.
Projecting that direction out of queries and passages (language-specific subspace removal,
Xie et al. 2022; language-mean centering, Libovický et al. 2020) lets meaning decide. The
direction is the difference of the zh and en passage means of the index itself, so it is only
used when the index holds enough of both; a one-language index is searched unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

# below this, a language's mean is mostly the topic of a few chunks, not the language
MIN_CHUNKS_PER_LANGUAGE = 3
MIN_SHARE_PER_LANGUAGE = 0.02


def language_direction(vectors: np.ndarray, scripts: Sequence[str]) -> np.ndarray | None:
    labels = np.asarray(scripts)
    zh, en = vectors[labels == "zh"], vectors[labels == "en"]
    return direction_from_sums(zh.sum(axis=0), len(zh), en.sum(axis=0), len(en), len(vectors))


def is_bilingual(zh_count: int, en_count: int, total: int) -> bool:
    """Enough chunks of each script that cross-script handling is worth its cost."""
    return _enough(zh_count, total) and _enough(en_count, total)


def held_scripts(scripts: Sequence[str]) -> frozenset[str]:
    """The scripts ('zh', 'en') that enough chunks are written in to be searched across to."""
    return frozenset(s for s in ("zh", "en") if _enough(scripts.count(s), len(scripts)))


def _enough(count: int, total: int) -> bool:
    return count >= max(MIN_CHUNKS_PER_LANGUAGE, MIN_SHARE_PER_LANGUAGE * total)


def direction_from_sums(
    zh_sum: np.ndarray, zh_count: int, en_sum: np.ndarray, en_count: int, total: int
) -> np.ndarray | None:
    """The direction from running per-script sums, which a store can keep up to date per
    change instead of reading every vector at each commit."""
    if not is_bilingual(zh_count, en_count, total):
        return None
    direction = zh_sum / zh_count - en_sum / en_count
    norm = float(np.linalg.norm(direction))
    return (direction / norm).astype(np.float32) if norm > 1e-6 else None


def project_out(vectors: np.ndarray, direction: np.ndarray) -> np.ndarray:
    """Remove the direction and re-normalise, so inner product stays cosine."""
    projected = vectors - np.outer(vectors @ direction, direction)
    norms = np.linalg.norm(projected, axis=1, keepdims=True)
    return (projected / np.maximum(norms, 1e-9)).astype(np.float32)
