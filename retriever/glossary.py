"""The plant's glossary: Chinese and English terms for one thing, given by the plant (a glossary
file) or mined from its documents (`毛邊(flash)`), merged into the one list that query
translation, the API and the CLI read.

A given term always wins: a mined pair whose Chinese or English side a given term already
names is dropped. A mined pair's confidence grows with its evidence (how often, in how many
documents) and shrinks when its Chinese term is mined with several English ones.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Literal

from retriever.text import fold_chinese, script_of

Origin = Literal["given", "mined"]
ORIGINS: tuple[Origin, ...] = ("given", "mined")
# a mined pair below this is listed (with its evidence) but does not translate questions
MIN_CONFIDENCE = 0.5
_SURE_AFTER = 3  # occurrences after which a consistent mined pair is as sure as it gets
_MINED_CEILING = 0.95  # a mined pair never reaches a given term's certainty


@dataclass(frozen=True)
class Evidence:
    """Where a mined pair was seen: a document and how many times in it."""

    doc_id: str
    count: int


@dataclass(frozen=True)
class Term:
    """One glossary entry: `zh` and `en` name the same thing; `synonyms` are other names in
    either language; `scope` narrows it (a line, a machine) and is shown, not enforced."""

    zh: str
    en: str
    synonyms: tuple[str, ...] = ()
    scope: str | None = None
    origin: Origin = "given"
    confidence: float = 1.0
    evidence: tuple[Evidence, ...] = ()

    @property
    def chinese(self) -> tuple[str, ...]:
        """Every Chinese name of the term, the main one first."""
        return (self.zh, *(s for s in self.synonyms if script_of(s) == "zh"))

    @property
    def english(self) -> tuple[str, ...]:
        return (self.en, *(s for s in self.synonyms if script_of(s) != "zh"))

    @property
    def translates(self) -> bool:
        """Sure enough to translate questions with."""
        return self.origin == "given" or self.confidence >= MIN_CONFIDENCE


@dataclass(frozen=True)
class Glossary:
    terms: tuple[Term, ...] = ()

    @classmethod
    def build(cls, given: Iterable[Term], mined: Iterable[tuple[Term, str, int]]) -> Glossary:
        """`given` terms as they are (a repeated pair once); `mined` as (pair, doc id, count)
        sightings, merged per pair, scored, and dropped where a given term names a side."""
        kept = list({(fold_chinese(t.zh), t.en.lower()): t for t in given}.values())
        named_zh = {fold_chinese(name) for t in kept for name in t.chinese}
        named_en = {name.lower() for t in kept for name in t.english}
        merged = _merged_sightings(mined)
        fresh = [t for t in merged if fold_chinese(t.zh) not in named_zh
                 and t.en.lower() not in named_en]  # fmt: skip
        return cls(tuple(kept) + tuple(_scored(fresh)))

    def of(self, origin: Origin | None) -> list[Term]:
        return [t for t in self.terms if origin is None or t.origin == origin]

    def translating(self) -> list[Term]:
        return [t for t in self.terms if t.translates]


def _merged_sightings(mined: Iterable[tuple[Term, str, int]]) -> list[Term]:
    by_pair: dict[tuple[str, str], Term] = {}
    for term, doc_id, count in mined:
        key = (fold_chinese(term.zh), term.en.lower())
        known = by_pair.get(key, term)
        evidence = _added(known.evidence if key in by_pair else (), doc_id, count)
        by_pair[key] = replace(known, origin="mined", evidence=evidence)
    return list(by_pair.values())


def _added(evidence: Sequence[Evidence], doc_id: str, count: int) -> tuple[Evidence, ...]:
    counts = {e.doc_id: e.count for e in evidence}
    counts[doc_id] = counts.get(doc_id, 0) + count
    return tuple(Evidence(d, c) for d, c in sorted(counts.items()))


def _scored(terms: list[Term]) -> list[Term]:
    """Confidence from the evidence: one sighting 0.5, rising towards the ceiling with more
    sightings and more documents, divided among the English terms one Chinese term was
    mined with (the share of sightings that agree)."""
    sightings = {t.zh: 0 for t in terms}
    for term in terms:
        sightings[term.zh] += _count(term)
    scored = []
    for term in terms:
        count, documents = _count(term), len(term.evidence)
        support = min(1.0, (count + documents - 1) / _SURE_AFTER)
        agreement = count / sightings[term.zh]
        confidence = (0.5 + (_MINED_CEILING - 0.5) * support) * agreement
        scored.append(replace(term, confidence=round(confidence, 3)))
    return sorted(scored, key=lambda t: (-t.confidence, t.zh, t.en))


def _count(term: Term) -> int:
    return sum(e.count for e in term.evidence)
