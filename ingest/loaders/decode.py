"""Bytes -> text for text-like files, with the encoding detected, not assumed.

Order: a BOM decides (UTF-8, UTF-16, UTF-32); then strict UTF-8; then UTF-16 without a BOM
(NUL bytes in every other position); then charset-normalizer over the encodings a Taiwanese
plant's files come in, preferring Big5 (cp950) when it reads the bytes as well as any other.
A file that no candidate reads coherently is an error, never indexed as mojibake.
"""

from __future__ import annotations

import codecs
import re

from retriever.lazy import require

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
LEGACY_ENCODINGS = ["cp950", "gb18030", "cp1252"]
MAX_CHAOS = 0.2  # charset-normalizer's "mess" ratio above which text is garbage
PREFERENCE_MARGIN = 0.05
_BAD_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")


class DecodeError(ValueError):
    """The bytes are not text in any encoding we accept."""


def decode_text(data: bytes) -> tuple[str, str]:
    """(text with \\n line ends, encoding name)."""
    text, encoding = _decode(data)
    if _BAD_CONTROL.search(text.replace("\x0c", "")):
        raise DecodeError(f"control characters after decoding as {encoding}: binary, not text")
    return text.replace("\r\n", "\n").replace("\r", "\n"), encoding


def _decode(data: bytes) -> tuple[str, str]:
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return _strict(data, encoding), encoding
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    if b"\x00" in data:
        return _bomless_utf16(data)
    return _detected(data)


def _strict(data: bytes, encoding: str) -> str:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise DecodeError(f"invalid {encoding} text (byte {exc.start})") from exc


def _bomless_utf16(data: bytes) -> tuple[str, str]:
    """NUL bytes are either UTF-16 without a BOM or a binary file: UTF-16 must decode strictly
    and read as coherent text."""
    charset_normalizer = require("charset_normalizer", "charset-normalizer")
    for encoding in ("utf_16_le", "utf_16_be"):
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        match = charset_normalizer.from_bytes(data, cp_isolation=[encoding]).best()
        if match is not None and match.chaos <= MAX_CHAOS:
            return text, encoding.replace("_", "-")
    raise DecodeError("binary file, not text")


def _detected(data: bytes) -> tuple[str, str]:
    charset_normalizer = require("charset_normalizer", "charset-normalizer")
    matches = list(charset_normalizer.from_bytes(data, cp_isolation=LEGACY_ENCODINGS))
    if not matches:
        raise DecodeError("not UTF-8, UTF-16 or Big5 text (encoding not recognised)")
    best = min(matches, key=lambda m: m.chaos)
    preferred = [m for m in matches if m.encoding in ("cp950", "big5")]
    if preferred and preferred[0].chaos <= best.chaos + PREFERENCE_MARGIN:
        best = preferred[0]
    if best.chaos > MAX_CHAOS:
        raise DecodeError(f"text decodes to garbage in every encoding tried (best {best.encoding})")
    return str(best), best.encoding
