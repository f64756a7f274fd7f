"""Question -> ranked, cited passages over one consistent snapshot."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from retriever.encoder import Encoder
from retriever.records import Citation, Passage
from retriever.store import Snapshot


def search(
    snapshot: Snapshot,
    encoder: Encoder,
    question: str,
    k: int,
    filters: Mapping[str, Sequence[str]] | None = None,
) -> list[Passage]:
    snapshot.manifest.check_model(encoder.name, encoder.dim)
    query_vector = encoder.encode_queries([question])[0]
    hits = snapshot.search(query_vector, k, filters)
    rows = snapshot.chunk_rows([chunk_id for chunk_id, _ in hits])
    passages = []
    for chunk_id, score in hits:
        row = rows.get(chunk_id)
        if row is None:  # the index and metadata of one generation agree; guard anyway
            continue
        doc = row.document
        citation = Citation.build(doc.doc_id, doc.title, doc.source, row.chunk)
        passages.append(Passage(chunk_id, row.chunk.text, score, citation))
    return passages
