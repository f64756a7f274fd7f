"""Interview transcripts (WebVTT, SRT, plain speaker lines) -> text and speaker turns.

Cues of one speaker that follow each other become one turn; each turn is rendered as a line
`speaker：text` so a passage reads like the transcript, and keeps its time span beside it.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, replace

from retriever.lazy import require
from retriever.records import Turn

INTERVIEWER_LABELS = {"q", "問", "訪談者", "訪問者", "採訪者", "interviewer", "主持人", "host"}
ANSWER_LABELS = {"a", "答"}
_TIME = re.compile(r"^(?:(\d{1,2}):)?(\d{1,2}):(\d{2})(?:[.,]\d+)?$")
_STAMP = re.compile(r"^[\[(]?(\d{1,2}:\d{2}(?::\d{2})?(?:[.,]\d+)?)[\])]?\s+")
_SPEAKER = re.compile(
    r"^(?P<speaker>[^\W\d][^\s:：,，。.!?！？]{0,19}|[A-Z][\w.'-]*(?: [A-Z(][\w.'()-]*){1,3})"
    r"\s*[:：]\s*(?P<text>\S.*)$"
)
_INLINE_ANSWER = re.compile(r"\s(?=(?:A|答)\s*[:：]\s)")
MIN_TURNS = 4


class TranscriptError(ValueError):
    """The file is not a transcript of the format its name says."""


@dataclass(frozen=True)
class RawTurn:
    speaker: str | None
    text: str
    time_start: str | None = None
    time_end: str | None = None


def hms(stamp: str | None) -> str | None:
    """'00:12:03.500' or '12:03' -> '00:12:03'."""
    match = _TIME.match(stamp.strip()) if stamp else None
    if not match:
        return None
    hours, minutes, seconds = match.groups()
    return f"{int(hours or 0):02d}:{int(minutes):02d}:{int(seconds):02d}"


def parse_vtt(text: str) -> list[RawTurn]:
    webvtt = require("webvtt", "webvtt-py")
    try:
        captions = list(webvtt.from_string(text))
    except webvtt.errors.MalformedFileError as exc:
        raise TranscriptError(f"malformed WebVTT ({exc})") from exc
    return [_cue(getattr(c, "voice", None), c.text, c.start, c.end) for c in captions]


def parse_srt(text: str) -> list[RawTurn]:
    srt = require("srt", "srt")
    try:
        subtitles = list(srt.parse(text))
    except srt.SRTParseError as exc:
        raise TranscriptError(f"malformed SRT ({exc})") from exc
    return [_cue(None, s.content, str(s.start), str(s.end)) for s in subtitles]


def _cue(voice: str | None, text: str, start: str, end: str) -> RawTurn:
    body = " ".join(text.split())
    speaker = voice
    if speaker is None:
        match = _SPEAKER.match(body)
        if match:
            speaker, body = match.group("speaker"), match.group("text")
    return RawTurn(speaker, body, hms(start), hms(end))


def parse_plain(text: str) -> list[RawTurn]:
    """Speaker lines, optionally time-stamped; unlabelled lines continue the turn above."""
    lines = [piece for line in text.splitlines() for piece in _INLINE_ANSWER.split(line.strip())]
    labelled = [_labelled(line) for line in lines]
    counts = Counter(s for s, _, _ in labelled if s)
    turns: list[RawTurn] = []
    for (speaker, body, stamp), line in zip(labelled, lines, strict=True):
        is_turn = speaker is not None and (counts[speaker] >= 2 or _role_label(speaker))
        if is_turn:
            turns.append(RawTurn(speaker, body, stamp))
        elif line and turns and turns[-1].speaker is not None:
            turns[-1] = RawTurn(
                turns[-1].speaker, f"{turns[-1].text}\n{line}", turns[-1].time_start
            )
        elif line:
            turns.append(RawTurn(None, line))
    return _with_ends(turns)


def _labelled(line: str) -> tuple[str | None, str, str | None]:
    stamp = _STAMP.match(line)
    rest = line[stamp.end() :] if stamp else line
    match = _SPEAKER.match(rest)
    if not match:
        return None, line, None
    return match.group("speaker"), match.group("text"), hms(stamp.group(1)) if stamp else None


def _role_label(speaker: str) -> bool:
    return speaker.lower() in INTERVIEWER_LABELS | ANSWER_LABELS


def _with_ends(turns: list[RawTurn]) -> list[RawTurn]:
    """A time-stamped turn ends where the next time-stamped one starts (one backward pass)."""
    ended: list[RawTurn] = []
    following: str | None = None
    for turn in reversed(turns):
        if turn.time_start:
            ended.append(replace(turn, time_end=turn.time_end or following))
            following = turn.time_start
        else:
            ended.append(turn)
    return ended[::-1]


def looks_like_transcript(turns: list[RawTurn]) -> bool:
    spoken = [t for t in turns if t.speaker]
    speakers = {t.speaker for t in spoken}
    return len(spoken) >= MIN_TURNS and len(speakers) >= 2 and len(spoken) >= 0.6 * len(turns)


def render(
    turns: list[RawTurn], interviewee: str | None, interviewer: str | None
) -> tuple[str, tuple[Turn, ...]]:
    """The transcript as text (one `speaker：text` line per turn) and its turns' spans."""
    merged = _merge_same_speaker(turns)
    experts = _experts(merged, interviewee, interviewer)
    lines: list[str] = []
    spans: list[Turn] = []
    pos = 0
    for turn in merged:
        line = f"{turn.speaker}{_colon(turn.speaker)}{turn.text}" if turn.speaker else turn.text
        shown = interviewee if turn.speaker and turn.speaker.lower() in ANSWER_LABELS else None
        is_interviewer = turn.speaker is not None and turn.speaker not in experts
        spans.append(Turn(pos, pos + len(line), shown or turn.speaker, is_interviewer,
                          turn.time_start, turn.time_end))  # fmt: skip
        lines.append(line)
        pos += len(line) + 2
    return "\n\n".join(lines), tuple(spans)


def _colon(speaker: str) -> str:
    return ": " if speaker.isascii() else "："


def _merge_same_speaker(turns: list[RawTurn]) -> list[RawTurn]:
    merged: list[RawTurn] = []
    for turn in turns:
        last = merged[-1] if merged else None
        if last is not None and turn.speaker is not None and turn.speaker == last.speaker:
            joiner = "" if _cjk(last.text[-1:]) and _cjk(turn.text[:1]) else " "
            merged[-1] = RawTurn(last.speaker, last.text + joiner + turn.text, last.time_start,
                                 turn.time_end or last.time_end)  # fmt: skip
        else:
            merged.append(turn)
    return merged


def _cjk(char: str) -> bool:
    return bool(char) and ("\u2e80" <= char <= "\u9fff" or "\uff00" <= char <= "\uffef"
                           or "\u3000" <= char <= "\u303f")  # fmt: skip


def _experts(turns: list[RawTurn], interviewee: str | None, interviewer: str | None) -> set[str]:
    """Who answers: the named interviewee, an `A:` label, or else whoever speaks the most
    that is not an interviewer."""
    speakers = Counter[str]()
    for turn in turns:
        if turn.speaker:
            speakers[turn.speaker] += len(turn.text)
    if interviewee and interviewee in speakers:
        return {interviewee}
    answering = {s for s in speakers if s.lower() in ANSWER_LABELS}
    if answering:
        return answering
    others = [s for s, _ in speakers.most_common()
              if s.lower() not in INTERVIEWER_LABELS and s != interviewer]  # fmt: skip
    return set(others[:1])
