"""The header block SOP and SIP templates put above their table (文件編號 | SIP-IM-003 | 版次 |
B | 生效日期 | 113.05.01): label cells followed by their values, read into metadata."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence

LABELS = {
    "doc_id": ("文件編號", "文件編碼", "編號", "doc no", "doc no.", "document no", "document no.",
               "document number", "doc id"),
    "revision": ("版次", "版本", "版別", "rev", "rev.", "revision", "version"),
    "effective_date": ("生效日期", "實施日期", "施行日期", "effective date", "effective"),
}  # fmt: skip
# further labels of such blocks: their rows are header block, not the table
OTHER_LABELS = ("頁次", "制定", "制定者", "審核", "核准", "部門", "單位", "機型", "料號", "品名",
                "page", "prepared by", "approved by", "department", "part no", "model")  # fmt: skip
_ALL_LABELS = sorted({label for labels in LABELS.values() for label in labels if len(label) > 3
                     or not label.isascii()}, key=len, reverse=True)  # fmt: skip
_LABEL_RE = "|".join(re.escape(label) for label in _ALL_LABELS)
_LABELLED = re.compile(
    rf"({_LABEL_RE})\s*[:：]\s*(.+?)(?=\s|(?:{_LABEL_RE})\s*[:：]|$)", re.IGNORECASE
)
_LABEL_START = re.compile(rf"\s*(?:{_LABEL_RE})\s*[:：]", re.IGNORECASE)
_DATE = re.compile(r"^(\d{2,4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?$")
ROC_OFFSET = 1911  # 民國 113 年 is 2024


def _label_name(cell: str) -> str:
    return cell.strip().rstrip(":：").strip().lower()


def label_field(cell: str) -> str | None:
    name = _label_name(cell)
    return next((field for field, labels in LABELS.items() if name in labels), None)


def is_label(cell: str) -> bool:
    return label_field(cell) is not None or _label_name(cell) in OTHER_LABELS


def is_block_row(cells: Sequence[str]) -> bool:
    """A row of label/value pairs, or a lone title cell above the table."""
    filled = [c for c in cells if c]
    return len(set(filled)) <= 1 or is_label(filled[0].partition(":")[0].partition("：")[0])


def pairs(cells: Sequence[str]) -> list[tuple[str, str]]:
    """(label, value) of a block row: a label cell and the filled cell after it; 'label: value'
    in one cell also counts."""
    filled = [c for c in cells if c]
    found = []
    i = 0
    while i < len(filled):
        cell = filled[i]
        label, sep, value = cell.partition("：") if "：" in cell else cell.partition(":")
        if is_label(cell) and i + 1 < len(filled) and not value.strip():
            found.append((cell.rstrip(":："), filled[i + 1]))
            i += 2
            continue
        if sep and value.strip() and is_label(label):
            found.append((label.strip(), value.strip()))
        i += 1
    return found


def stated_meta(rows: Sequence[Sequence[str]]) -> tuple[dict[str, str], list[str]]:
    """doc_id, revision and effective_date stated in the block; warnings for values unread."""
    stated: dict[str, str] = {}
    notes = []
    for row in rows:
        for label, value in pairs(row):
            field = label_field(label)
            if field is None or field in stated:
                continue
            if field == "effective_date":
                iso = iso_date(value)
                if iso is None:
                    notes.append(f"header block date {value!r} not read (write YYYY-MM-DD)")
                    continue
                value = iso
            stated[field] = value
    return stated, notes


HEADER_LINES = 12  # a printed SOP's header block sits in the first lines of its first page


def text_header_meta(text: str) -> tuple[dict[str, str], list[str]]:
    """The same header block printed in a document's first lines (`文件編號：SOP-PK-005　版次：A`),
    as OCR or a text layer reads it: a value ends at a space or where the next label starts."""
    lines = [line for line in text.splitlines() if line.strip()][:HEADER_LINES]
    # a header line starts with a label; a prose line that mentions one does not
    rows = [[f"{label}: {value}" for label, value in _LABELLED.findall(line)]
            for line in lines if _LABEL_START.match(line)]  # fmt: skip
    return stated_meta([row for row in rows if row])


def iso_date(value: str) -> str | None:
    """'2024-05-01', '2024/5/1', '113.05.01' (民國) or '113年5月1日' as an ISO date."""
    text = value.strip().split(" ")[0]
    match = _DATE.match(text)
    if match is None:
        return None
    year, month, day = (int(g) for g in match.groups())
    if year < ROC_OFFSET:
        year += ROC_OFFSET
    try:
        return dt.date(year, month, day).isoformat()
    except ValueError:
        return None
