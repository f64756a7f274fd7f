"""BM25's tokens: English stems without stopwords, part numbers whole and in parts, Chinese
characters and bigrams after folding Traditional and Simplified to one form."""

from __future__ import annotations

import functools
import re
from typing import Any

from retriever.lazy import require
from retriever.text import CJK_CHARS, fold_chinese

# part numbers, error codes and sizes (E-203, M6x1.0, SUS304, 0.8N·m) stay whole
_CODE = r"[a-z0-9]+(?:(?:[-./_·]|(?<=\d)x(?=\d))[a-z0-9]+)+"
_TOKEN = re.compile(rf"{_CODE}|[a-z0-9]+|[{CJK_CHARS}]+")
_CODE_PARTS = re.compile(r"[-./_·]")
_JOINERS = re.compile(r"[-/_·]")
_CJK = re.compile(f"[{CJK_CHARS}]")


@functools.cache
def _stemmer() -> Any:
    return require("Stemmer", "PyStemmer").Stemmer("english")


@functools.cache
def _stopwords() -> frozenset[str]:
    return frozenset(require("bm25s.stopwords", "bm25s").STOPWORDS_EN)


def sparse_tokens(text: str) -> list[str]:
    """Lower-cased English stems of two letters or more without stopwords, codes whole and in
    parts, CJK unigrams and bigrams."""
    tokens: list[str] = []
    stopwords = _stopwords()
    for match in _TOKEN.findall(fold_chinese(text.lower())):
        if _CJK.match(match):
            tokens.extend(match)
            tokens.extend(match[i : i + 2] for i in range(len(match) - 1))
        elif match not in stopwords and len(match) > 1:  # "s" of "TV's", step "1": noise
            tokens.append(match)
            if not match.isalnum():  # a code: also joined and in parts, so E-203 meets E203
                joined = _JOINERS.sub("", match)  # not "." : M6x1.0 is not M6x10
                tokens.extend([joined] if joined != match else [])
                tokens.extend(p for p in _CODE_PARTS.split(match) if len(p) > 1)
    stemmer = _stemmer()
    return [t if _CJK.match(t) or not t.isalpha() else stemmer.stemWord(t) for t in tokens]
