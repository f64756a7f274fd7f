"""Text analysis shared by ingest, retrieval and evaluation: script, sentences, language.

zh-Hans is folded to one form with OpenCC so a question typed in Simplified matches Traditional
SOPs; folding goes Traditional -> Simplified because that direction is many-to-one. BM25's own
tokens are built on this in retriever/bm25/tokens.py.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from retriever.lazy import require

CJK_CHARS = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"  # a regex class body: Han ideographs
_CJK = re.compile(f"[{CJK_CHARS}]")
_LATIN_WORD = re.compile(r"[A-Za-z]{3,}")

_SENTENCE_END = re.compile(r"[。！？；!?;]+[」』）)\"']*|(?<!\d)[.](?=\s)|\n+")
_LATIN_LETTER = re.compile(r"[A-Za-z]")

LANGUAGES = ("zh-Hant", "zh-Hans", "zh", "en", "mixed", "other")


@functools.cache
def _converter(config: str) -> Any:
    return require("opencc", "opencc").OpenCC(config)


def is_text(value: str) -> bool:
    """Encodable as UTF-8: JSON escapes and argv bytes can smuggle in unpaired surrogates."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def fold_chinese(text: str) -> str:
    return str(_converter("t2s").convert(text))


def detect_language(text: str) -> str:
    """zh-Hant, zh-Hans, zh (script undetermined), en, mixed (zh with English words), other."""
    has_cjk = bool(_CJK.search(text))
    has_latin_words = bool(_LATIN_WORD.search(text))
    if not has_cjk:
        return "en" if has_latin_words else "other"
    if has_latin_words:
        return "mixed"
    if _converter("t2s").convert(text) != text:
        return "zh-Hant"
    if _converter("s2t").convert(text) != text:
        return "zh-Hans"
    return "zh"


def sentence_spans(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Sentence spans in text[start:end], cut after Chinese or English sentence punctuation and
    at line ends (an SOP step is a line); "1." numbering a step does not end a sentence."""
    end = len(text) if end is None else end
    spans, pos = [], start
    for match in _SENTENCE_END.finditer(text, start, end):
        spans.append((pos, match.end()))
        pos = match.end()
    if pos < end:
        spans.append((pos, end))
    return [(s, e) for s, e in spans if text[s:e].strip()]


def strip_span(text: str, start: int, end: int) -> tuple[int, int]:
    """The span without the whitespace at either end."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def script_of(text: str) -> str:
    """'zh' when Chinese characters make up a quarter of the letters or more, else 'en'.

    A coarse split on purpose: it only has to tell which side of the zh/en gap a text's
    embedding sits on (see retriever/store/language_space.py).
    """
    cjk = len(_CJK.findall(text))
    latin = len(_LATIN_LETTER.findall(text))
    return "zh" if cjk and cjk >= 0.25 * latin else "en"
