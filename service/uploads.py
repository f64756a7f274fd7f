"""Uploaded files: safe names, size limits, a dry-run parse before anything stored is replaced.

Originals live in HOME/uploads/ under a sanitised name, so an upload can never write outside
it; a re-upload of the same name is an update of that document. A file is parsed before it is
moved into place, so a broken upload never replaces a good original.
"""

from __future__ import annotations

import os
import re
import unicodedata
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from ingest.loaders.files import KINDS, LoadError, SourceFile, kind_of, load_document
from ingest.loaders.ocr import PageReader
from ingest.meta.given import MetaError, checked
from retriever.lazy import require

_UNSAFE = re.compile(r"[^\w.\-() ]", re.UNICODE)
MAX_NAME_CHARS = 150
CHUNK_BYTES = 1024 * 1024


class UploadError(ValueError):
    """One uploaded file cannot be accepted; the reason is for the client."""


class UnreadType(UploadError):
    """A file of a type Shifu does not read: reported as skipped, not as a failure."""


@dataclass(frozen=True)
class Staged:
    """An accepted upload, parsed once, waiting in the uploads folder's staging area."""

    name: str
    staging: Path
    target: Path


def safe_name(raw: str | None) -> str:
    """The last path component of a client's file name, in NFKC form (full-width slashes and
    dots become ASCII first), with anything outside letters, digits and `._-() ` replaced."""
    name = unicodedata.normalize("NFKC", raw or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = _UNSAFE.sub("_", "".join(c for c in name if c.isprintable())).strip(" .")
    if not name or len(name) > MAX_NAME_CHARS:
        raise UploadError(f"unusable file name {raw!r}")
    if kind_of(Path(name)) is None:
        raise UnreadType(f"{Path(name).suffix.lower() or '(none)'} files are not read; "
                         f"send one of {', '.join(sorted(KINDS))} (or a glossary "
                         ".csv/.yaml named like glossary.yaml)")  # fmt: skip
    return name


def metadata_yaml(metadata: dict[str, object]) -> str:
    """Checked metadata as a sidecar's text; a bad field is the client's error."""
    yaml = require("yaml", "pyyaml")
    try:
        values = checked(metadata).values
    except MetaError as exc:
        raise UploadError(f"metadata: {exc}") from exc
    return yaml.safe_dump({k: list(v) if isinstance(v, tuple) else v for k, v in values.items()},
                          allow_unicode=True)  # fmt: skip


def stage(
    folder: Path, raw_name: str | None, stream: BinaryIO, budget: int, reader: PageReader
) -> tuple[Staged, int]:
    """Copy an upload into staging within `budget` bytes, then parse it as ingest would
    (`reader`'s OCR cache is the home's, so the ingest that follows reads a scan once)."""
    name = safe_name(raw_name)
    root = folder.resolve()
    target = (root / name).resolve()
    if target.parent != root:  # belt and braces: safe_name already removed every separator
        raise UploadError(f"file name {raw_name!r} leaves the uploads folder")
    staging_dir = root / ".staging"
    staging_dir.mkdir(parents=True, exist_ok=True)
    staging = staging_dir / f"{uuid.uuid4().hex}-{name}"
    written = _copy(stream, staging, budget)
    try:
        load_document(SourceFile(staging, staging_dir), staging.read_bytes(), name, reader)
    except LoadError as exc:
        staging.unlink(missing_ok=True)
        raise UploadError(exc.reason.replace(str(staging), name)) from exc
    return Staged(name, staging, target), written


def _copy(stream: BinaryIO, path: Path, budget: int) -> int:
    written = 0
    with path.open("wb") as out:
        while block := stream.read(CHUNK_BYTES):
            written += len(block)
            if written > budget:
                out.close()
                path.unlink(missing_ok=True)
                raise UploadTooLarge(f"upload exceeds the limit of {budget} bytes")
            out.write(block)
    return written


class UploadTooLarge(UploadError):
    """The request's files together exceed the upload limit."""


@dataclass(frozen=True)
class Placed:
    """An upload moved into place, with what it replaced (None: nothing), until settled."""

    target: Path
    replaced: tuple[tuple[Path, Path | None], ...]


def place(staged: Staged, sidecar: str | None) -> Placed:
    """Move a staged upload (and its metadata sidecar, if given) into place atomically,
    keeping what they replace until `settle` knows whether ingest accepted the file."""
    moves = [(staged.staging, staged.target)]
    if sidecar is not None:
        side_tmp = staged.staging.with_name(f"{staged.staging.name}.meta.yaml")
        side_tmp.write_text(sidecar, encoding="utf-8")
        moves.append((side_tmp, staged.target.with_name(f"{staged.target.name}.meta.yaml")))
    replaced = []
    for source, live in moves:
        backup = None
        if live.exists():
            backup = staged.staging.with_name(f"{live.name}.{uuid.uuid4().hex}.bak")
            os.replace(live, backup)
        os.replace(source, live)
        replaced.append((live, backup))
    return Placed(staged.target, tuple(replaced))


def settle(placed: Placed, accepted: bool) -> None:
    """Accepted: drop the replaced originals. Refused: put them back (or remove a new file),
    so a rejected upload never costs the document that was stored."""
    for live, backup in placed.replaced:
        if accepted:
            if backup is not None:
                backup.unlink(missing_ok=True)
        elif backup is not None:
            os.replace(backup, live)
        else:
            live.unlink(missing_ok=True)


@contextmanager
def cleaned(staged: list[Staged]) -> Iterator[None]:
    """Staged files that were not placed are removed whatever happens."""
    try:
        yield
    finally:
        for item in staged:
            item.staging.unlink(missing_ok=True)
