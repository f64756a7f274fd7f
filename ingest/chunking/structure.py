"""SOP structure: section headings and numbered steps in the forms factories write them.

Step markers: `1.` `1、` `1.1` `1)` `(1)` `①` `Step 3` `步驟一` `第三步` `一、` `(一)`. The first
marker style of a list is its step level; other styles inside it are sub-items of the current
step. Lines without a marker continue the open step when they are a warning or note, are
indented, or wrap an unfinished line; any other paragraph ends the list. In plain text and PDF
a short numbered title line that is not followed by a sibling item is a section heading.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_MD_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_NAMED_HEADING = re.compile(
    r"^(?:section|chapter|part)\s+\d+\b|^第[一二三四五六七八九十\d]+[章節节]", re.IGNORECASE
)
_ZH_NUM = "[一二三四五六七八九十百零〇]+"
_MARKERS = (
    ("dotted", re.compile(r"^(\d{1,2}(?:\.\d{1,2})+)\.?(?=\s+[^\sa-z]|[\u3400-\u9fff])\s*")),
    ("decimal", re.compile(r"^(\d{1,2})[.、．](?!\d)\s*(?=\S)")),
    ("paren-right", re.compile(r"^(\d{1,2})[)）]\s*(?=\S)")),
    ("paren", re.compile(r"^[(（](\d{1,2})[)）]\s*(?=\S)")),
    ("circled", re.compile(r"^([①-⑳])\s*(?=\S)")),
    ("step-en", re.compile(r"^step\s*(\d{1,2})\b[:.)\-–]?\s*", re.IGNORECASE)),
    ("step-zh", re.compile(rf"^步驟\s*({_ZH_NUM}|\d{{1,2}})[\s:：、.．]*")),
    ("step-zh", re.compile(rf"^第({_ZH_NUM}|\d{{1,2}})步[\s:：、.．]*")),
    ("zh-enum", re.compile(rf"^({_ZH_NUM})、\s*(?=\S)")),
    ("zh-paren", re.compile(rf"^[(（]({_ZH_NUM})[)）]\s*(?=\S)")),
)
_NOTICE = re.compile(r"^(?:注意|警告|危險|小心|備註|說明|caution|warning|danger|note)\b\s*[:：]?",
                     re.IGNORECASE)  # fmt: skip
_FINISHED = tuple("。．.！!？?」』）)")
_FURNITURE_DIGITS = re.compile(r"\d+")
MAX_TITLE_CHARS = 40
MAX_TITLE_WORDS = 8


@dataclass(frozen=True)
class Marker:
    style: str
    number: str  # as cited: '3', '4.2'
    text: str  # the line after the marker


@dataclass(frozen=True)
class Line:
    start: int  # offsets in Document.text
    end: int
    text: str
    page_start: bool  # first line of a PDF page
    blank_before: bool
    indented: bool


@dataclass(frozen=True)
class Block:
    """A heading, a step (all its lines on one page) or a paragraph line."""

    start: int
    end: int
    section: str | None
    step: str | None
    breaks_before: bool  # a heading or page start: no chunk may span it
    is_heading: bool = False
    marker: int = 0  # chars of its Markdown heading marker, left out of display text


def step_marker(text: str) -> Marker | None:
    for style, pattern in _MARKERS:
        match = pattern.match(text)
        if match:
            return Marker(style, _number(style, match.group(1)), text[match.end() :])
    return None


def _number(style: str, raw: str) -> str:
    if style == "circled":
        return str(ord(raw) - ord("①") + 1)
    return raw if raw[0].isdigit() else str(to_arabic(raw))


_DIGITS = {c: i for i, c in enumerate("零一二三四五六七八九")} | {"〇": 0}


def to_arabic(numeral: str) -> int:
    """Chinese numerals up to the hundreds: 三 -> 3, 十二 -> 12, 二十 -> 20, 一百零五 -> 105."""
    total, digit = 0, 0
    for char in numeral:
        if char in _DIGITS:
            digit = _DIGITS[char]
        elif char in "十百":
            total += (digit or 1) * (10 if char == "十" else 100)
            digit = 0
    return total + digit


def is_notice(text: str) -> bool:
    """Warnings, cautions and notes: they belong to the step they follow."""
    return bool(_NOTICE.match(text))


def _title_like(text: str) -> bool:
    text = text.strip()
    return (0 < len(text) <= MAX_TITLE_CHARS and len(text.split()) <= MAX_TITLE_WORDS
            and not text.endswith((*_FINISHED, ";", "；", ":", "：", ",", "，")))  # fmt: skip


class _Parser:
    def __init__(self, lines: list[Line], markdown: bool, pdf: bool, lone_title: bool) -> None:
        self.lines, self.markdown, self.pdf = lines, markdown, pdf
        self.section: list[str] = []
        self.styles: list[str] = []  # the open list's marker styles, outermost first
        self.step: str | None = None
        self.blocks: list[Block] = []
        # a lone level-1 heading is the document's title, not a section to cite
        level_one = [x for x in lines if markdown and lone_title and x.text.startswith("# ")]
        self.title_line = level_one[0] if len(level_one) == 1 else None
        self.furniture = page_furniture(lines) if pdf else set()
        self.page_turned = False

    def run(self) -> list[Block]:
        for i, line in enumerate(self.lines):
            if i in self.furniture:
                # the line after a skipped running header still starts its page
                self.page_turned = self.page_turned or line.page_start
                continue
            heading = self._heading(i)
            if heading is not None:
                self._open_section(heading, line)
                continue
            marker = step_marker(line.text.strip())
            if marker is not None:
                self._item(marker, line)
            elif self.step is not None and self._continues(i):
                self._extend(line)
            else:
                self.styles, self.step = [], None
                self._add(line, None)
        return self.blocks

    def _heading(self, i: int) -> tuple[int, str] | None:
        text = self.lines[i].text.strip()
        if self.markdown:
            match = md_heading(text)
            return (len(match.group(1)), match.group(2)) if match else None
        if _NAMED_HEADING.match(text) and _title_like(text):
            return 1, text
        marker = step_marker(text)
        if marker is None:
            return (1, text) if self._plain_heading(i) else None
        if not _title_like(marker.text) or self._sibling_follows(i, marker):
            return None
        return (2 if "." in marker.number else 1), text

    def _plain_heading(self, i: int) -> bool:
        """In plain text, a short unnumbered line after a blank line, directly followed by
        its body ('Purpose', 'Operating rules'). PDF text has no blank lines to tell by."""
        line = self.lines[i]
        following = self.lines[i + 1] if i + 1 < len(self.lines) else None
        return (not self.pdf and following is not None and not following.blank_before
                and (i == 0 or line.blank_before) and _title_like(line.text)
                and not is_notice(line.text.strip()))  # fmt: skip

    def _sibling_follows(self, i: int, marker: Marker) -> bool:
        """A numbered line followed by the next item of its list, or by its own note, is a
        step; followed by body text or a deeper list, it is a heading."""
        following = self.lines[i + 1] if i + 1 < len(self.lines) else None
        if following is None:
            return True
        text = following.text.strip()
        if is_notice(text):
            return True
        after = step_marker(text)
        return after is not None and after.style == marker.style and _follows(marker, after)

    def _open_section(self, heading: tuple[int, str], line: Line) -> None:
        depth, title = heading
        marker = line.text.find(title) if self.markdown else 0
        if self.title_line is not None:
            depth -= 1  # levels below the title count from it
        if line is self.title_line:
            self.section = []
        else:
            self.section = [*self.section[: max(depth, 1) - 1], title]
        self.styles, self.step = [], None
        self._add(line, None, breaks=True, heading=True, marker=max(marker, 0))

    def _item(self, marker: Marker, line: Line) -> None:
        if marker.style in self.styles:
            del self.styles[self.styles.index(marker.style) + 1 :]
        else:
            self.styles.append(marker.style)
        if len(self.styles) == 1:
            self.step = marker.number
            self._add(line, self.step)
        else:
            self._extend(line)

    def _continues(self, i: int) -> bool:
        line, previous = self.lines[i], self.lines[i - 1]
        if is_notice(line.text.strip()) or line.indented:
            return True
        unfinished = not previous.text.rstrip().endswith(_FINISHED)
        return not line.blank_before and (unfinished or not self.pdf)

    def _extend(self, line: Line) -> None:
        last = self.blocks[-1] if self.blocks else None
        if last is None or last.step != self.step or line.page_start or self.page_turned:
            self._add(line, self.step)
        else:
            self.blocks[-1] = Block(
                last.start, line.end, last.section, last.step, last.breaks_before
            )

    def _add(
        self, line: Line, step: str | None, breaks: bool = False, heading: bool = False,
        marker: int = 0,
    ) -> None:
        section = " > ".join(self.section) or None
        breaks = breaks or line.page_start or self.page_turned
        self.blocks.append(Block(line.start, line.end, section, step, breaks, heading, marker))
        self.page_turned = False


def md_heading(text: str) -> re.Match[str] | None:
    """A Markdown ATX heading line: its marker and its title."""
    return _MD_HEADING.match(text)


def page_furniture(lines: list[Line]) -> set[int]:
    """Running headers and footers: a page's first or last line, digits ignored, that recurs
    at the edge of another page ("Page 1 of 2", "SOP-BL-002 Rev. A ...")."""
    edges: dict[str, list[int]] = {}
    for i, line in enumerate(lines):
        last_of_page = i + 1 == len(lines) or lines[i + 1].page_start
        if line.page_start or last_of_page:
            key = _FURNITURE_DIGITS.sub("#", " ".join(line.text.split()))
            edges.setdefault(key, []).append(i)
    return {i for indexes in edges.values() if len(indexes) >= 2 for i in indexes}


def _follows(marker: Marker, after: Marker) -> bool:
    """`after` is the next item of `marker`'s list: 3 after 2, 4.3 after 4.2."""
    head, _, last = marker.number.rpartition(".")
    after_head, _, after_last = after.number.rpartition(".")
    return head == after_head and last.isdigit() and after_last == str(int(last) + 1)


def parse_blocks(
    lines: list[Line], markdown: bool, pdf: bool, lone_title: bool = True
) -> list[Block]:
    """`lone_title`: a single level-1 heading titles the document; where a loader writes one
    `#` heading per sheet or slide, it is that part's section instead."""
    return _Parser(lines, markdown, pdf, lone_title).run()
