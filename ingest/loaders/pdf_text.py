"""PDF -> text, page by page (pypdf, imported lazily): a page keeps its number, so a citation's
page is exact."""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

from retriever.lazy import require

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class PdfError(ValueError):
    """The PDF cannot be read: corrupt, encrypted, or not a PDF."""


def _pypdf() -> Any:
    logging.getLogger("pypdf").setLevel(logging.ERROR)  # font warnings are noise to a user
    return require("pypdf", "pypdf")


def pdf_pages(path: Path) -> tuple[list[str], str | None]:
    """The text of every page (empty for a page without a text layer) and the PDF's title."""
    pypdf, errors = _pypdf(), require("pypdf.errors", "pypdf")
    try:
        reader = pypdf.PdfReader(path)
        if reader.is_encrypted and not reader.decrypt(""):
            raise PdfError("encrypted PDF (password required)")
        pages = [_clean_pdf_text(page.extract_text() or "") for page in reader.pages]
        title = reader.metadata.title if reader.metadata else None
    except PdfError:
        raise
    except (errors.PyPdfError, ValueError, KeyError, TypeError, OSError) as exc:
        raise PdfError(f"corrupt or unreadable PDF ({type(exc).__name__}: {exc})") from exc
    except Exception as exc:  # pypdf raises many kinds on damaged files; one must not stop a batch
        raise PdfError(f"unreadable PDF ({type(exc).__name__}: {exc})") from exc
    return pages, _clean_title(title)


def _clean_pdf_text(text: str) -> str:
    # pypdf renders symbol-font bullets as control characters such as DEL
    return _CONTROL.sub(" ", text.replace("\r\n", "\n"))


def _clean_title(title: object) -> str | None:
    text = str(title).strip() if title else ""
    # PDF producers often leave placeholders such as "untitled" or a file name
    if not text or text.lower() in {"untitled", "title"} or text.lower().endswith((".doc", ".pdf")):
        return None
    return text
