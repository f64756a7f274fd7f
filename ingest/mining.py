"""Term pairs a document teaches by itself: a Chinese term followed by its English in brackets
(`對刀儀 (tool presetter)`, `毛邊(flash / 披鋒)`) or the reverse (`flash (毛邊)`).

The bracket fixes one side; the other side's edge is not marked (`在對刀儀` holds the word `在`).
It is chosen among the word-boundary suffixes of the text before the bracket that do not reach
past a function word: the shortest one whose dictionary senses (CC-CEDICT) cover the most of
the bracketed term's words; when the dictionary knows none, the one nearest two characters
per English word.
English that is not a term is left alone: codes and figures (`SUS304`, `Ar 99.99%`), phrases
with function words (`zero the tester`), more than four words.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import replace

from retriever.bm25.tokens import sparse_tokens
from retriever.bm25.translation import Lexicon, default_lexicon
from retriever.glossary import Evidence, Term
from retriever.lazy import require
from retriever.records import Document
from retriever.text import CJK_CHARS, fold_chinese

MINING_VERSION = 1  # raised when mining changes, so cached evaluation indexes are rebuilt
LONGEST_ZH = 8  # characters of a mined Chinese term
LONGEST_EN = 4  # words of a mined English term
# words a procedure puts before a term (prepositions, conjunctions, verbs of handling); bm25s's
# Chinese stopword list is too broad here (it holds 對 of 對刀儀 and 給 of 進給)
BEFORE_TERMS = frozenset({
    "在", "以", "將", "把", "的", "與", "和", "及", "並", "或", "於", "從",
    "用", "使用", "放入", "進行", "按", "請", "先", "再", "是", "為",
    "由", "至", "到", "即", "之", "其", "個", "各", "每", "該",
})  # fmt: skip
CHARS_PER_WORD = 2  # a Chinese term's length per English word, when no dictionary decides
_EN_TERM = r"[A-Za-z][A-Za-z\- ]{0,40}[A-Za-z]"
_ZH_THEN_EN = re.compile(
    rf"([{CJK_CHARS}]{{2,24}})\s*[(（]\s*({_EN_TERM}(?:\s*/\s*(?:{_EN_TERM}|[{CJK_CHARS}]{{2,8}}))*)"
    r"\s*[)）]"
)
_EN_THEN_ZH = re.compile(rf"((?:[A-Za-z][A-Za-z\-]*\s+){{0,5}}[A-Za-z][A-Za-z\-]+)\s*[(（]"
                         rf"\s*([{CJK_CHARS}]{{2,8}})\s*[)）]")  # fmt: skip
_HAN = re.compile(f"^[{CJK_CHARS}]+$")


def with_mined_terms(document: Document) -> Document:
    """The document with the term pairs its text teaches (a glossary file keeps its own)."""
    if document.kind == "glossary":
        return document
    return replace(document, terms=tuple(mine(document.text, document.doc_id)))


def mine(text: str, doc_id: str) -> list[Term]:
    """Each distinct pair once, with how often the document states it."""
    lexicon = default_lexicon()
    counts: Counter[tuple[str, str, tuple[str, ...]]] = Counter()
    for match in _ZH_THEN_EN.finditer(text):
        found = _chinese_first(text, match.group(1), match.group(2), lexicon)
        if found:
            counts[found] += 1
    for match in _EN_THEN_ZH.finditer(text):
        english = _english_term(match.group(1).split(), match.group(2), lexicon)
        if english:
            counts[(match.group(2), english, ())] += 1
    return [Term(zh, en, synonyms, origin="mined", confidence=0.0,
                 evidence=(Evidence(doc_id, count),))
            for (zh, en, synonyms), count in sorted(counts.items())]  # fmt: skip


def _chinese_first(
    text: str, run: str, bracket: str, lexicon: Lexicon | None
) -> tuple[str, str, tuple[str, ...]] | None:
    parts = [p.strip() for p in bracket.split("/")]
    english = [p for p in parts if not _HAN.match(p) and _is_term(p)]
    if not english:
        return None
    zh = _chinese_term(text, run, english[0], lexicon)
    if zh is None:
        return None
    others = [p for p in parts if p not in (english[0], zh)]
    synonyms = tuple(p for p in others if _HAN.match(p) or _is_term(p))
    return zh, english[0], synonyms


def _is_term(english: str) -> bool:
    words = english.split()
    stopwords = require("bm25s.stopwords", "bm25s").STOPWORDS_EN
    return 0 < len(words) <= LONGEST_EN and not any(w.lower() in stopwords for w in words)


def _chinese_term(text: str, run: str, english: str, lexicon: Lexicon | None) -> str | None:
    suffixes = _suffixes(run[-LONGEST_ZH:], lexicon)
    if not suffixes:
        return None
    wanted = set(sparse_tokens(english))
    covered = [_covered(s, wanted, lexicon) for s in suffixes]
    if max(covered) > 0:
        return suffixes[covered.index(max(covered))]
    # about two characters per English word (an acronym names a phrase of about two)
    words = len(english.split()) if not english.isupper() else 2
    return min(suffixes, key=lambda s: (abs(len(s) - CHARS_PER_WORD * words), len(s)))


def _suffixes(run: str, lexicon: Lexicon | None) -> list[str]:
    """The run's word-boundary endings, shortest first, none past a function word (`在`,
    `的`, `以`: the term starts after it) and none of one character."""
    words = _segment_backwards(run, lexicon)
    found: list[str] = []
    for start in range(len(words) - 1, -1, -1):
        if words[start] in BEFORE_TERMS:
            break
        suffix = "".join(words[start:])
        if len(suffix) >= 2:
            found.append(suffix)
    return found


def _covered(chinese: str, wanted: set[str], lexicon: Lexicon | None) -> int:
    """How many of the Chinese words' sense tokens the English term holds, whole or as the
    start or end of a compound (`overpacking` holds 過度's `over` and 充填's `pack`)."""
    senses = _sense_tokens(chinese, lexicon)
    return sum(any(_part_of(sense, token) for token in wanted) for sense in senses)


def _part_of(sense: str, token: str) -> bool:
    if sense == token:
        return True
    return len(sense) >= 3 and len(token) > len(sense) and (
        token.startswith(sense) or token.endswith(sense))


def _sense_tokens(chinese: str, lexicon: Lexicon | None) -> set[str]:
    if lexicon is None:
        return set()
    found: set[str] = set()
    for word in _segment_backwards(chinese, lexicon):
        entry = lexicon.entry(fold_chinese(word))
        found.update(t for sense in (entry[0] if entry else ()) for t in sparse_tokens(sense))
    return found


def _segment_backwards(run: str, lexicon: Lexicon | None) -> list[str]:
    """Backward maximum matching against the dictionary; unknown characters stand alone."""
    words: list[str] = []
    end = len(run)
    while end > 0:
        known = (n for n in range(min(6, end), 1, -1)
                 if lexicon and lexicon.entry(fold_chinese(run[end - n : end])))  # fmt: skip
        size = next(known, 1)
        words.insert(0, run[end - size : end])
        end -= size
    return words


def _english_term(words: list[str], chinese: str, lexicon: Lexicon | None) -> str | None:
    """The words before a bracketed Chinese term that name it: those its senses cover, else
    the trailing words after the last function word (three at most)."""
    stopwords = require("bm25s.stopwords", "bm25s").STOPWORDS_EN
    tail: list[str] = []
    for word in reversed(words[-LONGEST_EN:]):
        if word.lower() in stopwords:
            break
        tail.insert(0, word)
    if not tail:
        return None
    senses = _sense_tokens(chinese, lexicon)
    for start in range(len(tail)):
        if senses and all(t in senses for t in sparse_tokens(" ".join(tail[start:]))):
            return " ".join(tail[start:])
    return " ".join(tail[-3:])
