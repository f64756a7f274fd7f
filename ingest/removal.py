"""Taking documents out of the index: the files gone from disk (`--prune`), the files a watched
folder lost, and one document (or revision) by id."""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

from retriever.models.encoder import Encoder
from retriever.store.index_store import IndexStore, StoreWriter
from retriever.store.rows import DocumentRow


def prune_missing(writer: StoreWriter) -> list[DocumentRow]:
    """Every document whose file no longer exists."""
    return _delete(writer, [doc for doc in writer.documents() if not Path(doc.path).exists()])


def remove_paths(writer: StoreWriter, paths: Collection[Path]) -> list[DocumentRow]:
    """The documents of these files (absolute paths, as ingest stores them)."""
    wanted = {str(path) for path in paths}
    return _delete(writer, [doc for doc in writer.documents() if doc.path in wanted]
                   if wanted else [])  # fmt: skip


def _delete(writer: StoreWriter, documents: list[DocumentRow]) -> list[DocumentRow]:
    for doc in documents:
        writer.delete_document(doc.key)
    return documents


def stored(store: IndexStore, paths: Collection[Path]) -> bool:
    """Whether the live index holds a document of any of these files."""
    wanted = {str(path) for path in paths}
    return bool(wanted) and any(row.path in wanted for row in store.live_documents())


def remove_documents(
    store: IndexStore, encoder: Encoder, doc_id: str, revision: str | None = None
) -> list[DocumentRow]:
    """Delete every revision of a document (or one) from all indexes, in one generation."""
    with store.writer(encoder.name, encoder.dim, encoder.precision) as writer:
        rows = [r for r in writer.revisions_of(doc_id)
                if revision is None or r.meta.revision == revision]  # fmt: skip
        for row in rows:
            writer.delete_document(row.key)
        if rows:
            writer.commit()
    return rows
