"""Dictionary query translation: BM25 matching a question to passages in the other script."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from retriever.bm25.index import SparseIndex
from retriever.bm25.tokens import sparse_tokens
from retriever.bm25.translation import Lexicon, parse_cedict, translations
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
    return SparseIndex.build(ids, [sparse_tokens(PASSAGES[i]) for i in ids])


def test_a_chinese_question_finds_the_english_passage_only_with_a_lexicon() -> None:
    index = _index()
    question = "堆高機要翻車的時候要跳車嗎？"
    assert 1 not in dict(index.search_many([question], 5)[0])  # blind: no shared token
    ranked = index.search_many([question], 5, lexicon=LEXICON)[0]
    assert ranked[0][0] == 1


def test_an_english_question_finds_the_chinese_passage_through_the_reversed_senses() -> None:
    index = _index()
    question = "What matters when welding?"
    assert 4 not in dict(index.search_many([question], 5)[0])
    assert index.search_many([question], 5, lexicon=LEXICON)[0][0][0] == 4


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
    assert lexicon.reverse[("boiler",)] == ("锅炉",)


class _BilingualSnapshot:
    """Dense ranks a Chinese passage on another topic just above the English answer, as e5
    does across scripts."""

    def __init__(self, bilingual: bool) -> None:
        self.index = _index()
        self._bilingual = bilingual

    def bilingual(self) -> bool:
        return self._bilingual

    def scripts(self) -> dict[int, str]:
        return {1: "en", 2: "en", 3: "zh", 4: "zh", 5: "zh"}

    def dense_many(
        self, vectors: np.ndarray, k: int, selection: Selection | None = None
    ) -> list[list[tuple[int, float]]]:
        return [[(3, 0.86), (1, 0.85), (5, 0.84), (4, 0.83), (2, 0.82)] for _ in vectors]

    def sparse_many(
        self, questions: Sequence[str], k: int, selection: Selection | None = None,
        lexicon: Lexicon | None = None,
    ) -> list[list[tuple[int, float]]]:  # fmt: skip
        return self.index.search_many(questions, k, None, lexicon)


def test_hybrid_translates_only_in_a_bilingual_index() -> None:
    question, vectors = ["堆高機要翻車的時候要跳車嗎？"], np.zeros((1, 4), dtype=np.float32)
    bilingual = _BilingualSnapshot(bilingual=True)
    fused, _ = rank_many(bilingual, question, vectors, "hybrid", 5, lexicon=LEXICON)  # type: ignore[arg-type]
    assert fused[0][0][0] == 1
    untranslated, _ = rank_many(bilingual, question, vectors, "hybrid-rrf", 5, lexicon=LEXICON)  # type: ignore[arg-type]
    assert untranslated[0][0][0] != 1  # only z-score hybrid translates
    one_language = _BilingualSnapshot(bilingual=False)
    with_lexicon, _ = rank_many(one_language, question, vectors, "hybrid", 5, lexicon=LEXICON)  # type: ignore[arg-type]
    without, _ = rank_many(one_language, question, vectors, "hybrid", 5)  # type: ignore[arg-type]
    assert with_lexicon == without  # a one-language index ranks exactly as before


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
