"""Files -> Documents. An unreadable file raises LoadError with a reason a user can act on."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ingest.loaders import transcripts
from ingest.loaders.decode import DecodeError, decode_text
from ingest.loaders.docx_text import DocxError, docx_text
from ingest.loaders.pdf_text import PdfError, pdf_pages
from ingest.meta.derived import with_defaults
from ingest.meta.given import MetaError, checked, read_sidecar, sidecar_path, split_front_matter
from retriever.records import Document, Turn

KINDS = {".pdf": "pdf", ".md": "markdown", ".markdown": "markdown", ".txt": "text",
         ".docx": "docx", ".vtt": "vtt", ".srt": "srt"}  # fmt: skip
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


@dataclass(frozen=True)
class Loaded:
    document: Document
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Extracted:
    """What a format reader found: text per page, a title, metadata the file states."""

    pages: list[str]
    title: str | None
    stated: dict[str, Any]
    turns: tuple[Turn, ...] = ()
    kind: str = "text"


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


def source_hash(path: Path, data: bytes) -> str:
    """The file's bytes and its sidecar's: editing either one re-ingests the document."""
    digest = hashlib.sha256(data)
    sidecar = sidecar_path(path)
    if sidecar is not None:
        digest.update(b"\x00sidecar\x00" + sidecar.read_bytes())
    return digest.hexdigest()


def load_document(file: SourceFile, data: bytes, key: str) -> Loaded:
    kind = KINDS.get(file.path.suffix.lower())
    if kind is None:
        raise LoadError(file.path, f"unsupported file type {file.path.suffix or '(none)'!r}")
    if not data.strip():
        raise LoadError(file.path, "empty file")
    try:
        sidecar = read_sidecar(file.path)
        extracted = _extract(file.path, data, kind, sidecar)
        given = checked(extracted.stated, sidecar)
    except (DecodeError, MetaError, DocxError, PdfError, transcripts.TranscriptError) as exc:
        raise LoadError(file.path, str(exc)) from exc
    if not any(page.strip() for page in extracted.pages):
        raise LoadError(file.path, "no text layer (scanned PDF?)" if kind == "pdf" else "no text")
    text = "\n\n".join(extracted.pages)
    title, meta = with_defaults(given.values, file.path, extracted.title, text, extracted.turns)
    document = Document(key, title, file.source, str(file.path), source_hash(file.path, data),
                        extracted.kind, tuple(extracted.pages), meta, extracted.turns)  # fmt: skip
    return Loaded(document, given.warnings)


def _extract(path: Path, data: bytes, kind: str, sidecar: dict[str, Any]) -> _Extracted:
    if kind == "pdf":
        pages, title = pdf_pages(path)
        return _Extracted(pages, title, {}, kind="pdf")
    if kind == "docx":
        text, stated = docx_text(path)
        return _Extracted([text], None, stated, kind="docx")
    text, _ = decode_text(data)
    if kind in ("vtt", "srt"):
        raw = transcripts.parse_vtt(text) if kind == "vtt" else transcripts.parse_srt(text)
        return _transcript(raw, {}, sidecar)
    stated, body = split_front_matter(text)
    if _is_interview(stated, sidecar, body):
        return _transcript(transcripts.parse_plain(body), stated, sidecar)
    match = _MD_TITLE.search(body) if kind == "markdown" else None
    return _Extracted([body], match.group(1) if match else None, stated, kind=kind)


def _is_interview(stated: dict[str, Any], sidecar: dict[str, Any], body: str) -> bool:
    doc_type = sidecar.get("doc_type", stated.get("doc_type"))
    if doc_type is not None:
        return str(doc_type).strip().lower() == "interview"
    return transcripts.looks_like_transcript(transcripts.parse_plain(body))


def _transcript(
    raw: list[transcripts.RawTurn], stated: dict[str, Any], sidecar: dict[str, Any]
) -> _Extracted:
    if not raw:
        raise transcripts.TranscriptError("no speaker turns found")
    names = {**stated, **sidecar}
    interviewee, interviewer = names.get("interviewee"), names.get("interviewer")
    text, turns = transcripts.render(raw, _name(interviewee), _name(interviewer))
    return _Extracted([text], None, stated, turns, kind="transcript")


def _name(value: object) -> str | None:
    return str(value).strip() if value else None
