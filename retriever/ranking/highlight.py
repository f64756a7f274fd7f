"""The best sentence of each passage for a question, as char offsets within the passage."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

import numpy as np

from retriever.bm25.tokens import sparse_tokens
from retriever.models.encoder import Encoder
from retriever.text import script_of, sentence_spans, strip_span

Span = tuple[int, int]
# the embedder's budget per question: the first 2 unmatched passages, 4 sentences of each (those
# sharing most translated tokens first). On corpus/eval's cross-language questions this keeps
# 0.95 of answer passages highlighted on the answer (as 3 x 8 did, embedding 60 sentences
# instead of 79); 2 x 3 dropped to 0.90 (python -m bench.highlight)
MAX_EMBEDDED_PASSAGES = 2
MAX_SENTENCES = 4
# dictionary tokens a sentence must share, and share alone, to be picked without the model: on
# corpus/eval's cross-language questions 3 keeps the embedder's hits (0.95 of answer passages
# highlighted on the answer) with 40% fewer sentences embedded; 1 and 2 dropped to 0.85 and
# 0.90 (python -m bench.highlight)
TRANSLATED_OVERLAP = 3
# the same passages answer many questions: their sentences and tokens are kept, not re-derived
CACHED_TEXTS = 4096
CACHED_SENTENCES = 32_768


def best_sentences(
    texts: Sequence[str],
    question: str,
    query_vector: np.ndarray | None,
    encoder: Encoder | None,
    translate: Callable[[], Sequence[str]] | None = None,
) -> list[Span | None]:
    """Lexical overlap picks the sentence. A passage in the other script than the question's
    shares no word with it: there the question's dictionary translations (`translate()`: BM25
    tokens of the other script, asked for once and only then) are matched instead, and only
    where they find nothing does the embedder compare the sentences (a model call: the
    costliest step of a query)."""
    wanted = set(sparse_tokens(question))
    across: set[str] | None = None
    script = script_of(question)
    spans = [_trimmed_spans(t) for t in texts]
    best: list[Span | None] = []
    unmatched: list[int] = []
    for i, (text, candidates) in enumerate(zip(texts, spans, strict=True)):
        other = script_of(text) != script
        found = _most_shared(text, candidates, wanted)
        if found is None and other and translate is not None:
            across = set(translate()) if across is None else across
            found = _most_shared(text, candidates, across, decisive=True)
        best.append(found)
        if found is None and candidates and other:
            unmatched.append(i)
    if unmatched and query_vector is not None and encoder is not None:
        _by_embedding(best, unmatched, texts, spans, query_vector, encoder, across or set())
    return best


def _most_shared(
    text: str, candidates: Sequence[Span], wanted: set[str], decisive: bool = False
) -> Span | None:
    """The sentence sharing the most tokens with `wanted` (the first of a tie), if any shares.
    `decisive`: only a sole best sentence sharing at least TRANSLATED_OVERLAP tokens."""
    if not wanted:
        return None
    overlaps = [len(wanted & _tokens(text[s:e])) for s, e in candidates]
    top = max(overlaps, default=0)
    if top == 0 or (decisive and (top < TRANSLATED_OVERLAP or overlaps.count(top) > 1)):
        return None
    return candidates[overlaps.index(top)]


def _by_embedding(
    best: list[Span | None], unmatched: list[int], texts: Sequence[str],
    spans: list[tuple[Span, ...]], query_vector: np.ndarray, encoder: Encoder,
    across: set[str],
) -> None:  # fmt: skip
    """Bounded, as the model call is the costliest step of a query that needs it: the first
    passages only, and of each the sentences the translations touch most, then the first."""
    sentences = [
        (i, span) for i in unmatched[:MAX_EMBEDDED_PASSAGES]
        for span in _likeliest(texts[i], spans[i], across)[:MAX_SENTENCES]
    ]  # fmt: skip
    if not sentences:
        return
    encode = getattr(encoder, "encode_sentences", encoder.encode_passages)  # cached if offered
    vectors = encode([texts[i][s:e] for i, (s, e) in sentences])
    scores = vectors @ query_vector
    for i in unmatched:
        own = [(score, span) for (j, span), score in zip(sentences, scores, strict=True) if j == i]
        if own:
            best[i] = max(own, key=lambda pair: pair[0])[1]


def _likeliest(text: str, candidates: Sequence[Span], across: set[str]) -> list[Span]:
    """Sentences by how many translated tokens they share (most first), then in order."""
    shared = [len(across & _tokens(text[s:e])) for s, e in candidates]
    order = sorted(range(len(candidates)), key=lambda j: -shared[j])  # stable: ties in order
    return [candidates[j] for j in order]


@functools.lru_cache(maxsize=CACHED_SENTENCES)
def _tokens(sentence: str) -> frozenset[str]:
    return frozenset(sparse_tokens(sentence))


@functools.lru_cache(maxsize=CACHED_TEXTS)
def _trimmed_spans(text: str) -> tuple[Span, ...]:
    """Sentences without surrounding space; a Markdown heading names the section, it does not
    answer, so headings are only candidates when a passage has nothing else."""
    trimmed = [strip_span(text, start, end) for start, end in sentence_spans(text)]
    body = [(s, e) for s, e in trimmed if not text.startswith("#", s)]
    return tuple(body or trimmed)
