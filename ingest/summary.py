"""What one ingest did, file by file: the summary the CLI prints and the API returns."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ingest.loaders.files import LoadError
from retriever.store.rows import DocumentRow


@dataclass
class IngestSummary:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    failed: int = 0
    pages: int = 0
    chunks: int = 0  # chunks written for added and updated documents
    embedded: int = 0  # of those, chunks that needed the model (the rest kept their vectors)
    seconds: float = 0.0
    generation: int | None = None
    failures: list[dict[str, str]] = field(default_factory=list)
    warnings: list[dict[str, str]] = field(default_factory=list)
    defaulted: dict[str, list[str]] = field(default_factory=dict)  # source -> derived fields
    superseded: list[str] = field(default_factory=list)  # "doc_id rev X" now superseded
    skipped: dict[str, int] = field(default_factory=dict)  # extension -> files not read
    ocr_pages: int = 0  # pages of added and updated documents read by OCR
    glossary_terms: int = 0  # terms of the glossary files added or updated
    mined_terms: int = 0  # term pairs mined from the documents added or updated

    files: list[dict[str, str]] = field(default_factory=list)  # per file: path, status, ...

    def fail(self, error: LoadError) -> None:
        self.failed += 1
        self.failures.append({"path": str(error.path), "reason": error.reason})
        self.files.append({"path": str(error.path), "status": "failed", "reason": error.reason})

    def keep(self, path: str, doc_id: str) -> None:
        """A file the index already holds as it is."""
        self.unchanged += 1
        self.files.append({"path": path, "status": "unchanged", "doc_id": doc_id})

    def skip(self, paths: list[Path]) -> None:
        """Files of a type Shifu does not read: counted by extension and listed per file."""
        for path in paths:
            extension = path.suffix.lower() or "(none)"
            self.skipped[extension] = self.skipped.get(extension, 0) + 1
            self.files.append({"path": str(path), "status": "skipped",
                               "reason": f"{extension} files are not read"})  # fmt: skip

    def remove(self, documents: list[DocumentRow]) -> None:
        """Documents taken out because their files are gone."""
        self.removed += len(documents)
        for doc in documents:
            self.files.append({"path": doc.path, "status": "removed", "doc_id": doc.doc_id,
                               "revision": doc.meta.revision or ""})  # fmt: skip

    def warn(self, path: str, message: str) -> None:
        self.warnings.append({"path": path, "message": message})

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["seconds"] = round(self.seconds, 3)
        return data
