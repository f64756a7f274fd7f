"""Files -> Documents. An unreadable file raises LoadError with a reason a user can act on."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ingest.loaders import transcripts
from ingest.loaders.decode import DecodeError, decode_text
from ingest.loaders.docx_text import DocxError, docx_text
from ingest.loaders.extracted import Extracted
from ingest.loaders.glossary_file import GlossaryError, glossary_document, is_glossary
from ingest.loaders.html_text import html_document
from ingest.loaders.images import ImageError, image_pages
from ingest.loaders.legacy import LegacyError, converted
from ingest.loaders.ocr import OcrError, PageReader
from ingest.loaders.pdf_text import PdfError, pdf_document
from ingest.loaders.sheets import SheetError, csv_document, xlsx_document
from ingest.loaders.slides import SlideError, pptx_document
from ingest.loaders.template_meta import text_header_meta
from ingest.meta.derived import with_defaults
from ingest.meta.given import (
    SIDECAR_SUFFIX,
    MetaError,
    checked,
    read_sidecar,
    sidecar_path,
    split_front_matter,
)
from retriever.records import Document

KINDS = {".pdf": "pdf", ".md": "markdown", ".markdown": "markdown", ".txt": "text",
         ".docx": "docx", ".vtt": "vtt", ".srt": "srt", ".xlsx": "xlsx", ".xlsm": "xlsx",
         ".csv": "csv", ".pptx": "pptx", ".html": "html", ".htm": "html", ".png": "image",
         ".jpg": "image", ".jpeg": "image", ".tif": "image", ".tiff": "image", ".doc": "legacy",
         ".xls": "legacy", ".ppt": "legacy"}  # fmt: skip
_MD_TITLE = re.compile(r"^#\s+(.+?)\s*#*\s*$", re.MULTILINE)
_MD_HEADING_LINE = re.compile(r"^#{1,6}\s+\S", re.MULTILINE)
_READ_ERRORS = (DecodeError, MetaError, DocxError, PdfError, transcripts.TranscriptError,
                ImageError, OcrError, SheetError, SlideError, LegacyError,
                GlossaryError)  # fmt: skip


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


@dataclass(frozen=True)
class Loaded:
    document: Document
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class Discovered:
    files: list[SourceFile]
    missing: list[LoadError]
    skipped: list[Path]  # files of a type Shifu does not read (sidecars are not counted)


def discover(paths: Sequence[Path | SourceFile]) -> Discovered:
    """Expand files and folders (recursively, hidden entries skipped) into supported files. A
    SourceFile is taken as it is: a watched folder's changed file keeps its folder as root."""
    found: list[SourceFile] = []
    errors: list[LoadError] = []
    skipped: list[Path] = []
    for given in paths:
        if isinstance(given, SourceFile):
            if given.path.is_file():
                found.append(given)
            else:
                errors.append(LoadError(given.path, "no such file or folder"))
            continue
        path = given.expanduser().resolve()
        if path.is_dir():
            for file in walk(path):
                if kind_of(file) is not None:
                    found.append(SourceFile(file, path))
                elif not file.name.endswith(SIDECAR_SUFFIX):
                    skipped.append(file)
        elif path.is_file():
            found.append(SourceFile(path, path.parent))
        else:
            errors.append(LoadError(given, "no such file or folder"))
    return Discovered(_once(found), errors, sorted(skipped))


def _once(found: list[SourceFile]) -> list[SourceFile]:
    """Each file once, though given twice or reached again through a symlink (the real path
    is kept, so its source name is where the file is)."""
    unique: dict[Path, SourceFile] = {}
    for file in sorted(found, key=lambda f: (f.path.is_symlink(), str(f.path))):
        unique.setdefault(file.path.resolve(), file)
    return sorted(unique.values(), key=lambda f: str(f.path))


def kind_of(path: Path) -> str | None:
    """What a file is read as, by its name; None for a type Shifu does not read."""
    return "glossary" if is_glossary(path) else KINDS.get(path.suffix.lower())


def walk(folder: Path) -> Iterator[Path]:
    """The files under a folder that ingest looks at: hidden files and folders are skipped."""
    for path in sorted(folder.rglob("*")):
        hidden = any(part.startswith(".") for part in path.relative_to(folder).parts)
        if not hidden and path.is_file():
            yield path


def source_hash(path: Path, data: bytes) -> str:
    """The file's bytes and its sidecar's: editing either one re-ingests the document."""
    digest = hashlib.sha256(data)
    sidecar = sidecar_path(path)
    if sidecar is not None:
        digest.update(b"\x00sidecar\x00" + sidecar.read_bytes())
    return digest.hexdigest()


def load_document(
    file: SourceFile, data: bytes, key: str, reader: PageReader | None = None
) -> Loaded:
    """`reader` OCRs scanned pages and images (one without a cache when not given)."""
    kind = kind_of(file.path)
    if kind is None:
        raise LoadError(file.path, f"unsupported file type {file.path.suffix or '(none)'!r}")
    if not data.strip():
        raise LoadError(file.path, "empty file")
    try:
        sidecar = read_sidecar(file.path)
        extracted = _extract(file.path, data, kind, sidecar, reader or PageReader())
        given = checked(_printed_header(extracted), extracted.stated, sidecar)
    except _READ_ERRORS as exc:
        raise LoadError(file.path, str(exc)) from exc
    if not any(page.strip() for page in extracted.pages):
        scanned = kind in ("pdf", "image")
        raise LoadError(file.path, "no text found, also by OCR" if scanned else "no text")
    text = "\n\n".join(extracted.pages)
    title, meta = with_defaults(given.values, file.path, extracted.title, text, extracted.turns)
    document = Document(key, title, file.source, str(file.path), source_hash(file.path, data),
                        extracted.kind, tuple(extracted.pages), meta, extracted.turns,
                        extracted.ocr, extracted.rows, extracted.terms)  # fmt: skip
    return Loaded(document, given.warnings + extracted.warnings)


def _extract(
    path: Path, data: bytes, kind: str, sidecar: dict[str, Any], reader: PageReader
) -> Extracted:
    if kind == "legacy":
        return converted(path, lambda copy: _extract(copy, b"", _binary_kind(copy), {}, reader))
    if kind in ("pdf", "image", "docx", "xlsx", "pptx"):
        return _binary(path, kind, reader)
    if kind == "glossary":
        return glossary_document(path, data)
    text, _ = decode_text(data)
    if kind == "csv":
        return csv_document(text)
    if kind == "html":
        return html_document(text)
    if kind in ("vtt", "srt"):
        raw = transcripts.parse_vtt(text) if kind == "vtt" else transcripts.parse_srt(text)
        return _transcript(raw, {}, sidecar)
    stated, body = split_front_matter(text)
    if _is_interview(stated, sidecar, body):
        return _transcript(transcripts.parse_plain(body), stated, sidecar)
    if kind == "text" and _MD_HEADING_LINE.search(body):
        kind = "markdown"  # a .txt written in Markdown style reads as Markdown
    match = _MD_TITLE.search(body) if kind == "markdown" else None
    return Extracted([body], match.group(1) if match else None, stated, kind=kind)


def _printed_header(extracted: Extracted) -> dict[str, Any]:
    """doc_id, revision and effective_date printed in a document's header block (a scanned or
    printed SOP has no other metadata); what the file states otherwise wins, a sidecar most."""
    if extracted.turns or not extracted.pages:
        return {}
    stated, _ = text_header_meta(extracted.pages[0])
    return stated


def _binary_kind(path: Path) -> str:
    return KINDS[path.suffix.lower()]


def _binary(path: Path, kind: str, reader: PageReader) -> Extracted:
    if kind == "pdf":
        return pdf_document(path, reader)
    if kind == "image":
        return image_pages(path, reader)
    if kind == "xlsx":
        return xlsx_document(path)
    if kind == "pptx":
        return pptx_document(path)
    text, stated = docx_text(path)
    return Extracted([text], None, stated, kind="docx")


def _is_interview(stated: dict[str, Any], sidecar: dict[str, Any], body: str) -> bool:
    doc_type = sidecar.get("doc_type", stated.get("doc_type"))
    if doc_type is not None:
        return str(doc_type).strip().lower() == "interview"
    return transcripts.looks_like_transcript(transcripts.parse_plain(body))


def _transcript(
    raw: list[transcripts.RawTurn], stated: dict[str, Any], sidecar: dict[str, Any]
) -> Extracted:
    if not raw:
        raise transcripts.TranscriptError("no speaker turns found")
    names = {**stated, **sidecar}
    interviewee, interviewer = names.get("interviewee"), names.get("interviewer")
    text, turns = transcripts.render(raw, _name(interviewee), _name(interviewer))
    return Extracted([text], None, stated, turns, kind="transcript")


def _name(value: object) -> str | None:
    return str(value).strip() if value else None
