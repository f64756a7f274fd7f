"""Intranet HTML pages (BeautifulSoup) -> Markdown-like text: headings as `#` sections, lists
as items (an `<ol>` as numbered steps), tables as rows with their headers. Scripts, styles,
navigation, headers, footers and forms are dropped; links keep their text, never their target."""

from __future__ import annotations

from typing import Any

from ingest.loaders.extracted import Extracted
from ingest.loaders.tables import table_lines
from retriever.lazy import require

DROPPED = ("script", "style", "noscript", "template", "nav", "header", "footer", "aside", "form",
           "iframe", "svg", "button", "select", "head")  # fmt: skip
HEADINGS = {f"h{n}": n for n in range(1, 7)}
BLOCKS = ("p", "div", "section", "article", "main", "blockquote", "pre", "dd", "dt", "li",
          "figure", "figcaption", "address", "details", "summary", "body", "center")  # fmt: skip


def html_document(text: str) -> Extracted:
    bs4 = require("bs4", "beautifulsoup4")
    soup = bs4.BeautifulSoup(text, "html.parser")
    title_tag = soup.find("title")
    title = " ".join(title_tag.get_text().split()) if title_tag is not None else None
    for tag in soup.find_all(DROPPED):
        tag.decompose()
    writer = _Blocks(bs4)
    writer.walk(soup)
    writer.flush()
    return Extracted(["\n\n".join(writer.lines)], title or None, kind="html")


class _Blocks:
    def __init__(self, bs4: Any) -> None:
        self.bs4 = bs4
        self.lines: list[str] = []
        self.inline: list[str] = []

    def flush(self) -> None:
        text = " ".join(" ".join(self.inline).split())
        if text:
            self.lines.append(text)
        self.inline = []

    def walk(self, node: Any) -> None:
        for child in node.children:
            if isinstance(child, self.bs4.Comment):
                continue
            if isinstance(child, self.bs4.NavigableString):
                self.inline.append(str(child))
                continue
            name = child.name or ""
            if name in HEADINGS:
                self.flush()
                self.lines.append(f"{'#' * HEADINGS[name]} {_text(child)}")
            elif name == "table":
                self.flush()
                self.lines.append("\n".join(table_lines(_rows(child))))
            elif name in ("ul", "ol"):
                self.flush()
                self._list(child, numbered=name == "ol")
            elif name == "br":
                self.flush()
            elif name in BLOCKS:
                self.flush()
                self.walk(child)
                self.flush()
            else:
                self.walk(child)

    def _list(self, node: Any, numbered: bool) -> None:
        items = node.find_all("li", recursive=False)
        for number, item in enumerate(items, start=1):
            marker = f"{number}." if numbered else "-"
            text = _text(item)
            if text:
                self.lines.append(f"{marker} {text}")


def _rows(table: Any) -> list[list[str]]:
    return [[_text(cell) for cell in row.find_all(("th", "td"), recursive=False)]
            for row in table.find_all("tr")]  # fmt: skip


def _text(node: Any) -> str:
    return " ".join(node.get_text(" ").split())
