"""The manifest every index generation carries (model, dimension, count, format, where the
vectors are), checked on load."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from retriever.store.errors import ModelMismatchError, StoreError
from retriever.store.layout import MANIFEST

FORMAT_VERSION = 6  # 5: document metadata, revisions, steps and turns; 6: OCR, sheet rows
READABLE_FORMATS = (5, 6)  # a format-5 generation reads as one without OCR and rows


@dataclass(frozen=True)
class Manifest:
    format_version: int
    model: str
    dim: int
    count: int
    next_chunk_id: int
    generation: int
    created_at: float
    language_projection: bool = False
    backend: str = "faiss"  # where the dense vectors are: "faiss" (this folder) or "milvus"
    collection: str | None = None  # the Milvus collection, with the milvus backend
    precision: str = "fp32"  # what the encoder of this generation's new passages computed in

    def check_backend(self, backend: str, collection: str | None = None) -> None:
        if self.backend != backend:
            raise StoreError(
                f"this index keeps its vectors in {self.backend!r} but the store is set to "
                f"{backend!r}; set SHIFU_STORE={self.backend} or use another home"
            )
        if collection is not None and self.collection != collection:
            raise StoreError(
                f"this index lives in Milvus collection {self.collection!r}, not "
                f"{collection!r}; set SHIFU_MILVUS_COLLECTION={self.collection}"
            )

    def check_model(self, model: str, dim: int) -> None:
        if (self.model, self.dim) != (model, dim):
            raise ModelMismatchError(
                f"index was built with model {self.model!r} (dim {self.dim}) but the "
                f"configured model is {model!r} (dim {dim}); use the same model or a new home"
            )


def read_manifest(folder: Path) -> Manifest:
    """The manifest of the generation in `folder`, refused when its format is not ours."""
    path = folder / MANIFEST
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise StoreError(f"cannot read index manifest {path}: {exc}") from exc
    if data.get("format_version") not in READABLE_FORMATS:
        raise StoreError(
            f"index {folder} has format {data.get('format_version')}, this Shifu reads formats "
            f"{', '.join(map(str, READABLE_FORMATS))}; re-ingest into a new home"
        )
    return Manifest(**data)


def write_manifest(folder: Path, manifest: Manifest) -> None:
    """Into a staging folder, which publishing fsyncs and renames whole."""
    (folder / MANIFEST).write_text(json.dumps(asdict(manifest), indent=2))
