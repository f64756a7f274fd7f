"""Transcript -> chunks that follow the conversation: one exchange (the interviewer's question
and the answer it prompted) per chunk; a long answer is split at sentences and its later
chunks carry the question in their context, so they stay findable by what was asked."""

from __future__ import annotations

from dataclasses import replace

from ingest.chunking.units import ChunkingConfig, TokenCounter, Unit, make_chunk, pack, split_long
from retriever.records import Chunk, Document, Turn

MAX_QUESTION_CONTEXT = 120


def exchanges(turns: tuple[Turn, ...]) -> list[list[int]]:
    """Turn indexes grouped by exchange: a new one starts at a question after an answer."""
    groups: list[list[int]] = []
    for i, turn in enumerate(turns):
        previous = turns[i - 1] if i else None
        starts = (
            previous is None
            or turn.speaker is None
            or previous.speaker is None
            or (turn.is_interviewer and not previous.is_interviewer)
        )
        if starts:
            groups.append([i])
        else:
            groups[-1].append(i)
    return groups


def chunk_transcript(doc: Document, count: TokenCounter, config: ChunkingConfig) -> list[Chunk]:
    text, turns = doc.text, doc.turns
    tokens = count([text[t.char_start : t.char_end] for t in turns])
    chunks: list[Chunk] = []
    for group in exchanges(turns):
        # an exchange over budget is packed by sentences, so the question shares its chunk
        # with the start of the answer instead of standing alone
        by_sentence = sum(tokens[i] for i in group) > config.max_tokens
        units: list[Unit] = []
        for i in group:
            turn = turns[i]
            unit = Unit(turn.char_start, turn.char_end, tokens[i], None, None, not units, i)
            split = (by_sentence and len(group) > 1) or tokens[i] > config.max_tokens
            units.extend(split_long(text, unit, count, config.max_tokens) if split else [unit])
        question = _question(doc, group)
        for piece in pack(units, config):
            asked = question if piece[0].turn != group[0] else None
            chunk = make_chunk(doc, piece, len(chunks), asked)
            if chunk is not None:
                chunks.append(
                    _with_turns(chunk, [turns[u.turn] for u in piece if u.turn is not None])
                )
    return chunks


def _question(doc: Document, group: list[int]) -> str | None:
    first = doc.turns[group[0]]
    if not first.is_interviewer:
        return None
    asked = " ".join(doc.text[first.char_start : first.char_end].split())
    return asked[:MAX_QUESTION_CONTEXT]


def _with_turns(chunk: Chunk, touched: list[Turn]) -> Chunk:
    """Cited by the answering expert, over the time its turns span."""
    answering = [t for t in touched if not t.is_interviewer and t.speaker]
    speaker = (answering or touched)[0].speaker if touched else None
    starts = [t.time_start for t in touched if t.time_start]
    ends = [t.time_end for t in touched if t.time_end]
    return replace(chunk, speaker=speaker, time_start=min(starts, default=None),
                   time_end=max(ends, default=None))  # fmt: skip
