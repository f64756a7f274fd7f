"""Term pairs from the two language versions of one document: an SOP kept in Chinese and in
English under one doc_id and revision (their `language` says which is which).

The versions are aligned by their numbered steps, in order (both must number the same count of
steps, at least MIN_STEPS). A Chinese dictionary word and an English word or two-word phrase
that appear in the same aligned steps, and nowhere apart (Dice coefficient at least MIN_DICE,
together in at least MIN_TOGETHER steps, each the other's one best match), are taken as a pair:
the document's own translation of that word, which may not be the dictionary's (毛邊 is flash
here, raw edge in CC-CEDICT). Measured on tatoeba-zh-en's 500 sentence pairs taken as aligned
steps: 117 pairs, about nine in ten right by my check (the wrong ones pair a word with its
neighbour: 寫字 with `writes left`, 得很 with `fast`).
"""

from __future__ import annotations

import itertools
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

from ingest.loaders.files import LoadError, SourceFile, load_document
from ingest.loaders.ocr import PageReader
from ingest.mining import with_mined_terms
from retriever.bm25.tokens import sparse_tokens
from retriever.bm25.translation import Lexicon, default_lexicon, function_words, segment
from retriever.glossary import Evidence, Term
from retriever.records import DocMeta, Document
from retriever.store.index_store import StoreWriter
from retriever.store.rows import DocumentRow
from retriever.text import CJK_CHARS, fold_chinese, script_of

MIN_STEPS = 3
MIN_DICE = 0.8
MIN_TOGETHER = 2
_STEP = re.compile(r"^\s*(?:步驟\s*)?(\d{1,2})\s*[.)、．）:：]\s*(\S.*)$", re.MULTILINE)
_CJK_RUN = re.compile(f"[{CJK_CHARS}]+")
_WORD = re.compile(r"[A-Za-z][A-Za-z\-]+")


def other_language(one: DocMeta, other: DocMeta) -> bool:
    """Two languages on either side of the zh/en divide (zh-TW and en, say), both stated by
    the documents: a language Shifu derived from the text never makes a second version (a
    file could otherwise claim a stored revision by being written in the other language)."""
    stated = [m.language for m in (one, other) if _stated(m)]
    return len(stated) == 2 and _script(stated[0] or "") != _script(stated[1] or "")


def _stated(meta: DocMeta) -> bool:
    """The document says its language (a derived one is Shifu's guess from the text)."""
    return bool(meta.language) and "language" not in meta.defaulted


def _script(language: str) -> str:
    return "zh" if language.lower().startswith("zh") else "en"


def version_pairs(chinese: Document, english: Document) -> list[Term]:
    """The pairs the two versions teach, with the Chinese version's doc_id as evidence."""
    steps = aligned_steps(chinese.text, english.text)
    lexicon = default_lexicon()
    if steps is None or lexicon is None:
        return []
    found = _cooccurring([(_chinese_words(z, lexicon), _english_phrases(e)) for z, e in steps])
    return [Term(zh, en, origin="mined", confidence=0.0, evidence=(Evidence(chinese.doc_id, n),))
            for zh, en, n in found]  # fmt: skip


def aligned_steps(chinese: str, english: str) -> list[tuple[str, str]] | None:
    """The numbered steps of both texts paired in order; None unless both number as many."""
    zh, en = _STEP.findall(chinese), _STEP.findall(english)
    if len(zh) != len(en) or len(zh) < MIN_STEPS:
        return None
    return [(z[1], e[1]) for z, e in zip(zh, en, strict=True)]


def _chinese_words(text: str, lexicon: Lexicon) -> dict[str, str]:
    """Dictionary words of two characters or more, folded -> as written."""
    skip, _ = function_words()
    words: dict[str, str] = {}
    for written in _CJK_RUN.findall(text):
        run = fold_chinese(written)
        for start, word in segment(run, lexicon):
            if len(word) >= 2 and word not in skip and len(run) == len(written):
                words.setdefault(word, written[start : start + len(word)])
    return words


def _english_phrases(text: str) -> dict[str, str]:
    """Content words and two-word phrases, by their stems -> as written."""
    _, stops = function_words()
    words = [w for w in _WORD.findall(text) if _stem(w) and _stem(w) not in stops]
    phrases = {_stem(w): w.lower() for w in words}
    for a, b in itertools.pairwise(words):
        phrases.setdefault(f"{_stem(a)} {_stem(b)}", f"{a} {b}".lower())
    return phrases


def _stem(word: str) -> str:
    tokens = sparse_tokens(word)
    return tokens[0] if tokens else ""


def _cooccurring(steps: Sequence[tuple[dict[str, str], dict[str, str]]]) -> list[tuple]:
    """(Chinese as written, English as written, steps together) for each mutual best pair."""
    alone_zh, alone_en, together = Counter[str](), Counter[str](), Counter[tuple[str, str]]()
    for zh, en in steps:
        alone_zh.update(zh.keys())
        alone_en.update(en.keys())
        together.update((z, e) for z in zh for e in en)
    dice = {pair: 2 * n / (alone_zh[pair[0]] + alone_en[pair[1]])
            for pair, n in together.items() if n >= MIN_TOGETHER}  # fmt: skip
    best_zh = _best(dice, 0)
    best_en = _best(dice, 1)
    written_zh = {k: v for zh, _ in steps for k, v in zh.items()}
    written_en = {k: v for _, en in steps for k, v in en.items()}
    return [(written_zh[z], written_en[e], together[(z, e)]) for z, e in sorted(best_zh.values())
            if dice[(z, e)] >= MIN_DICE and best_en.get(e) == (z, e)]  # fmt: skip


def _best(dice: dict[tuple[str, str], float], side: int) -> dict[str, tuple[str, str]]:
    """Each word's best partner by Dice, when one partner alone is best (`sound the horn`
    ties 喇叭 with sound and horn alike: no pair)."""
    top: dict[str, list[tuple[str, str]]] = {}
    for pair, score in dice.items():
        held = top.get(pair[side])
        if held is None or score > dice[held[0]]:
            top[pair[side]] = [pair]
        elif score == dice[held[0]]:
            held.append(pair)
    return {word: pairs[0] for word, pairs in top.items() if len(pairs) == 1}


def pairs_of(documents: Iterable[Document]) -> dict[str, tuple[Document, Document]]:
    """doc key of each Chinese version -> (it, its English version), among `documents`."""
    by_version: dict[tuple[str, str | None], list[Document]] = {}
    for doc in documents:
        by_version.setdefault((doc.doc_id, doc.meta.revision), []).append(doc)
    paired: dict[str, tuple[Document, Document]] = {}
    for docs in by_version.values():
        stated = [d for d in docs if _stated(d.meta)]
        chinese = [d for d in stated if _script(d.meta.language or "") == "zh"]
        english = [d for d in stated if _script(d.meta.language or "") == "en"]
        if len(chinese) == 1 and len(english) == 1 and script_of(chinese[0].text) == "zh":
            paired[chinese[0].key] = (chinese[0], english[0])
    return paired


def version_terms(
    loaded: Sequence[Document], stored: Sequence[Document]
) -> dict[str, tuple[Term, ...]]:
    """Chinese version's key -> its terms (mined from its own text, and the pairs it shares
    with its English version), for each version pair with a side among `loaded` (this batch;
    `stored` are the other sides, read again from their files)."""
    fresh = {d.key for d in loaded}
    found = {}
    for key, (chinese, english) in pairs_of([*loaded, *stored]).items():
        if key in fresh or english.key in fresh:
            found[key] = chinese.terms + tuple(version_pairs(chinese, english))
    return found


def pair_versions(writer: StoreWriter, loaded: Sequence[Document], reader: PageReader) -> None:
    """Write the terms of each document kept in two languages, from both versions; a side not
    in this batch is read again from its file."""
    keys = {d.key for d in loaded}
    stored = []
    for doc in loaded:
        if not _stated(doc.meta):  # cannot be a language version: no query for its revisions
            continue
        for row in writer.revisions_of(doc.doc_id):
            if row.key not in keys and other_language(row.meta, doc.meta):
                stored.extend(_reloaded(row, reader))
                keys.add(row.key)
    for key, terms in version_terms(loaded, stored).items():
        writer.put_terms(key, terms)


def _reloaded(row: DocumentRow, reader: PageReader) -> list[Document]:
    path = Path(row.path)
    try:
        root = path.parents[len(Path(row.source).parts) - 1]
        document = load_document(SourceFile(path, root), path.read_bytes(), row.key, reader)
    except (OSError, LoadError, IndexError):
        return []  # gone or unreadable now: its pairs wait for the next ingest of both
    return [with_mined_terms(document.document)]
