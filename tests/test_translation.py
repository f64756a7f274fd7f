"""Dictionary query translation: BM25 matching a question to passages in the other script."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from retriever.bm25.index import SparseIndex
from retriever.bm25.tokens import sparse_tokens
from retriever.bm25.translation import (
    Expansion,
    Lexicon,
    expansions,
    glossary_lexicon,
    parse_cedict,
    translations,
)
from retriever.glossary import Glossary, Term
from retriever.ranking.across import merged, translated_question
from retriever.ranking.highlight import best_sentences
from retriever.ranking.retrieve import rank_many
from retriever.store.backend import Selection

LEXICON = Lexicon.from_pairs([
    ("堆高機", ["forklift"]), ("翻車", ["to overturn", "to flip over"]), ("跳車", ["to jump"]),
    ("要", ["to want", "to demand"]), ("電池", ["battery"]), ("焊接", ["to weld"]),
])  # fmt: skip
PASSAGES = {
    1: "If the forklift starts to overturn, do not jump: hold the wheel and lean away.",
    2: "Check the battery charge before the shift.",
    3: "錫膏要回溫，罐子要擦乾再開。",
    4: "焊接前要清潔焊道，要戴面罩。",
    5: "模具要保養，排氣槽要清。",
}


def _index() -> SparseIndex:
    ids = list(PASSAGES)
    return SparseIndex.build((i, sparse_tokens(PASSAGES[i])) for i in ids)


def test_a_chinese_question_finds_the_english_passage_only_with_a_lexicon() -> None:
    index = _index()
    question = "堆高機要翻車的時候要跳車嗎？"
    assert 1 not in dict(index.search_many([question], 5)[0])  # blind: no shared token
    ranked = index.search_many([question], 5, found=[index.expansions(question, LEXICON)])[0]
    assert ranked[0][0] == 1


def test_an_english_question_finds_the_chinese_passage_through_the_reversed_senses() -> None:
    index = _index()
    question = "What matters when welding?"
    assert 4 not in dict(index.search_many([question], 5)[0])
    found = [index.expansions(question, LEXICON)]
    assert index.search_many([question], 5, found=found)[0][0][0] == 4


def test_common_words_and_words_no_passage_uses_are_not_translated() -> None:
    known = {"forklift", "overturn", "flip", "want"}.__contains__
    common = {"要"}.__contains__  # in most passages: its senses would drown the topic
    tokens = translations("堆高機要翻車", LEXICON, known, common)
    assert tokens == ["forklift", "overturn", "flip"]


def test_cedict_lines_keep_senses_and_drop_notes() -> None:
    lexicon = parse_cedict([
        "# CC-CEDICT comment",
        "電池 电池 [dian4 chi2] /battery/CL:節|节[jie2]/",
        "鍋爐 锅炉 [guo1 lu2] /boiler (steam)/see 鍋|锅[guo1]/",
    ])  # fmt: skip
    assert lexicon.senses == {"电池": ("battery",), "锅炉": ("boiler",)}
    assert lexicon.words_for(("boiler",)) == (("锅炉",), "dictionary")


class _BilingualSnapshot:
    """Dense ranks a Chinese passage on another topic just above the English answer, as e5
    does across scripts."""

    def __init__(self, held: frozenset[str]) -> None:
        self.index = _index()
        self._held = held

    def held(self) -> frozenset[str]:
        return self._held

    def scripts(self) -> dict[int, str]:
        return {1: "en", 2: "en", 3: "zh", 4: "zh", 5: "zh"}

    def lexicon(self, groups: object, base: Lexicon | None) -> Lexicon | None:
        return base

    def expansions(self, question: str, lexicon: Lexicon) -> list[Expansion]:
        return self.index.expansions(question, lexicon)

    def dense_many(
        self, vectors: np.ndarray, k: int, selection: Selection | None = None
    ) -> list[list[tuple[int, float]]]:
        return [[(3, 0.86), (1, 0.85), (5, 0.84), (4, 0.83), (2, 0.82)] for _ in vectors]

    def sparse_many(
        self, questions: Sequence[str], k: int, selection: Selection | None = None,
        found: Sequence[list[Expansion] | None] | None = None,
    ) -> list[list[tuple[int, float]]]:  # fmt: skip
        return self.index.search_many(questions, k, None, found)


def test_hybrid_translates_only_where_the_other_language_is_held() -> None:
    question, vectors = ["堆高機要翻車的時候要跳車嗎？"], np.zeros((1, 4), dtype=np.float32)
    bilingual = _BilingualSnapshot(frozenset({"zh", "en"}))
    fused, _ = rank_many(bilingual, question, vectors, "hybrid", 5, lexicon=LEXICON)  # type: ignore[arg-type]
    assert fused[0][0][0] == 1
    untranslated, _ = rank_many(bilingual, question, vectors, "hybrid-rrf", 5, lexicon=LEXICON)  # type: ignore[arg-type]
    assert untranslated[0][0][0] != 1  # only z-score hybrid translates
    chinese_only = _BilingualSnapshot(frozenset({"zh"}))
    with_lexicon, _ = rank_many(chinese_only, question, vectors, "hybrid", 5, lexicon=LEXICON)  # type: ignore[arg-type]
    without, _ = rank_many(chinese_only, question, vectors, "hybrid", 5)  # type: ignore[arg-type]
    assert with_lexicon == without  # no English passage to find: ranked exactly as before


CEDICT_LIKE = Lexicon.from_pairs([
    ("毛邊", ["raw edge", "rough edge"]), ("鎖", ["to lock", "lock"]), ("調", ["to adjust"]),
    ("堆高機", ["forklift"]),
])  # fmt: skip
ALL_KNOWN = lambda token: True  # noqa: E731
NONE_COMMON = lambda token: False  # noqa: E731


def test_a_given_glossary_term_beats_the_dictionary_senses() -> None:
    lexicon = glossary_lexicon([Term("毛邊", "flash", ("披鋒",))], CEDICT_LIKE)
    found = expansions("毛邊怎麼調", lexicon, ALL_KNOWN, NONE_COMMON)
    flash = next(e for e in found if e.term == "毛邊")
    assert (flash.translations, flash.source) == (("flash", "披鋒"), "glossary")
    assert "raw" not in flash.tokens and "edg" not in flash.tokens
    assert "flash" in flash.tokens and "披锋" in flash.tokens  # the same-language synonym too
    adjust = next(e for e in found if e.term == "調")
    assert adjust.source == "dictionary"  # what the glossary does not name, CEDICT still does


def test_a_glossary_phrase_is_translated_before_its_characters() -> None:
    lexicon = glossary_lexicon([Term("上鎖掛牌", "lockout/tagout", ("LOTO",))], CEDICT_LIKE)
    found = expansions("清卡料前要上鎖掛牌嗎", lexicon, ALL_KNOWN, NONE_COMMON)
    assert [e.term for e in found] == ["上鎖掛牌"]  # not 鎖 → lock on its own


def test_a_glossary_word_is_matched_in_both_languages() -> None:
    lexicon = glossary_lexicon([Term("堆高機", "forklift", ("叉車", "lift truck"))], CEDICT_LIKE)
    from_english = expansions("forklift tips over", lexicon, ALL_KNOWN, NONE_COMMON)
    assert from_english[0].source == "glossary"
    assert {"堆高", "高机", "叉车", "lift", "truck"} <= set(from_english[0].tokens)
    from_chinese = expansions("堆高機翻車", lexicon, ALL_KNOWN, NONE_COMMON)
    assert {"forklift", "lift", "truck", "叉车"} <= set(from_chinese[0].tokens)
    # a glossary word weighs more than a dictionary one: the plant's own term is surer
    dictionary = expansions("堆高機翻車", CEDICT_LIKE, ALL_KNOWN, NONE_COMMON)[0]
    assert sum([from_chinese[0].weight] * len(from_chinese[0].tokens)) > dictionary.weight


def test_a_mined_pair_never_overrides_a_given_term() -> None:
    given = [Term("毛邊", "flash")]
    mined = [(Term("毛邊", "burr", origin="mined"), "SOP-1", 5),
             (Term("飛邊", "flash", origin="mined"), "SOP-1", 2),
             (Term("對刀儀", "tool presetter", origin="mined"), "SOP-2", 1),
             (Term("對刀儀", "tool presetter", origin="mined"), "SOP-3", 2)]  # fmt: skip
    glossary = Glossary.build(given, mined)
    assert [(t.zh, t.en, t.origin) for t in glossary.terms] == [
        ("毛邊", "flash", "given"), ("對刀儀", "tool presetter", "mined")]  # fmt: skip
    presetter = glossary.terms[1]
    assert [(e.doc_id, e.count) for e in presetter.evidence] == [("SOP-2", 1), ("SOP-3", 2)]
    assert 0.5 < presetter.confidence < 1.0 and presetter.translates
    lexicon = glossary_lexicon(glossary.translating(), CEDICT_LIKE)
    assert expansions("毛邊", lexicon, ALL_KNOWN, NONE_COMMON)[0].translations == ("flash",)


def test_a_chinese_term_mined_with_two_english_ones_is_less_sure_of_each() -> None:
    mined = [(Term("倍率", "override", origin="mined"), "A", 1),
             (Term("倍率", "ratio", origin="mined"), "B", 1)]  # fmt: skip
    one = Glossary.build([], mined[:1]).terms[0].confidence
    split = {t.en: t.confidence for t in Glossary.build([], mined).terms}
    assert split["override"] < one and not Glossary.build([], mined).terms[0].translates


def test_a_cross_script_highlight_takes_a_decisive_dictionary_match_without_the_model() -> None:
    text = "Check the oil level. Stay inside the overhead guard if the truck starts to tip over."
    decisive = ["stay", "insid", "overhead", "guard", "tip"]
    vague = ["check", "truck"]  # one token each in both sentences: not decisive

    class Refuse:
        def encode_passages(self, texts: object) -> None:
            raise AssertionError("a decisive dictionary match needs no model")

    query = np.ones(4, dtype=np.float32)
    found = best_sentences([text], "堆高機翻車時該怎麼做", query, Refuse(), lambda: decisive)  # type: ignore[arg-type]
    assert found == [(21, 84)]
    assert best_sentences([text], "堆高機翻車時該怎麼做", None, None, lambda: vague) == [None]


def test_a_translated_vector_raises_an_answer_across_and_keeps_one_at_home() -> None:
    scripts = {1: "zh", 2: "zh", 3: "en", 4: "en", 5: "en"}
    plain = [(1, 0.86), (2, 0.84), (3, 0.80), (4, 0.79), (5, 0.78)]
    # the translated vector finds passage 5 standing out among the English ones
    across = [(5, 0.99), (3, 0.84), (4, 0.83), (1, 0.60), (2, 0.55)]
    ranked = [c for c, _ in merged(plain, across, scripts, "en", 10)]
    assert ranked[0] == 5 and ranked[1:3] == [1, 2]  # the Chinese ones keep their order
    # translated scores that do not stand out leave the plain ranking as it was
    level = [(3, 0.99), (4, 0.98), (5, 0.97)]
    assert merged(plain, level, scripts, "en", 10) == plain


def test_the_translated_question_takes_the_sense_the_index_uses() -> None:
    found = [Expansion("清", ("Qing dynasty", "clear"), "dictionary", ("clear",), 2.0),
             Expansion("卡料", ("jam", "卡模"), "glossary", ("jam",), 4.0)]  # fmt: skip
    assert translated_question("清卡料怎麼做", found) == "clear jam"
    assert translated_question("清卡料怎麼做", []) is None
