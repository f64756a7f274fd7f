"""Files -> Documents. An unreadable file raises LoadError with a reason a user can act on."""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from retriever.records import Document

KINDS = {".pdf": "pdf", ".md": "markdown", ".markdown": "markdown", ".txt": "text"}
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_MD_TITLE = re.compile(r"^#\s+(.+?)\s*#*\s*$", re.MULTILINE)


class LoadError(Exception):
    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


@dataclass(frozen=True)
class SourceFile:
    """A file to ingest and the root its `source` name is relative to."""

    path: Path
    root: Path

    @property
    def source(self) -> str:
        return self.path.relative_to(self.root).as_posix()


def discover(paths: list[Path]) -> tuple[list[SourceFile], list[LoadError]]:
    """Expand files and folders (recursively, hidden entries skipped) into supported files."""
    found: list[SourceFile] = []
    errors: list[LoadError] = []
    for given in paths:
        path = given.expanduser().resolve()
        if path.is_dir():
            found.extend(SourceFile(p, path) for p in _walk(path))
        elif path.is_file():
            found.append(SourceFile(path, path.parent))
        else:
            errors.append(LoadError(given, "no such file or folder"))
    unique = {f.path: f for f in found}
    return sorted(unique.values(), key=lambda f: str(f.path)), errors


def _walk(folder: Path) -> Iterator[Path]:
    for path in sorted(folder.rglob("*")):
        hidden = any(part.startswith(".") for part in path.relative_to(folder).parts)
        if not hidden and path.is_file() and path.suffix.lower() in KINDS:
            yield path


def file_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def load_document(file: SourceFile, data: bytes, doc_id: str) -> Document:
    kind = KINDS.get(file.path.suffix.lower())
    if kind is None:
        raise LoadError(file.path, f"unsupported file type {file.path.suffix or '(none)'!r}")
    if not data.strip():
        raise LoadError(file.path, "empty file")
    if kind == "pdf":
        pages, title = _pdf_pages(file.path)
    else:
        pages, title = _text_pages(file.path, data, kind)
    if not any(page.strip() for page in pages):
        reason = "no text layer (scanned PDF?)" if kind == "pdf" else "no text"
        raise LoadError(file.path, reason)
    return Document(
        doc_id=doc_id,
        title=title or file.path.stem,
        source=file.source,
        path=str(file.path),
        content_hash=file_hash(data),
        kind=kind,
        pages=tuple(pages),
    )


def _text_pages(path: Path, data: bytes, kind: str) -> tuple[list[str], str | None]:
    if b"\x00" in data:
        raise LoadError(path, "binary file, not text")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise LoadError(path, f"not UTF-8 text (byte {exc.start})") from exc
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    title = None
    if kind == "markdown":
        match = _MD_TITLE.search(text)
        title = match.group(1) if match else None
    return [text], title


def _pdf_pages(path: Path) -> tuple[list[str], str | None]:
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    logging.getLogger("pypdf").setLevel(logging.ERROR)  # font warnings are noise to a user
    try:
        reader = PdfReader(path)
        if reader.is_encrypted and not reader.decrypt(""):
            raise LoadError(path, "encrypted PDF (password required)")
        pages = [_clean_pdf_text(page.extract_text() or "") for page in reader.pages]
        title = reader.metadata.title if reader.metadata else None
    except LoadError:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, OSError) as exc:
        raise LoadError(path, f"corrupt or unreadable PDF ({type(exc).__name__}: {exc})") from exc
    except (
        Exception
    ) as exc:  # pypdf raises many kinds on damaged files; one bad file must not stop a batch
        raise LoadError(path, f"unreadable PDF ({type(exc).__name__}: {exc})") from exc
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
