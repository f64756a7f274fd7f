"""The Milvus seam: the only module that imports pymilvus (lazily), and only its MilvusClient,
so one code path reaches Milvus Lite (a local file), a standalone server and a cluster."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from retriever.lazy import require
from retriever.store.errors import StoreError
from retriever.store.milvus.tags import MAX_GROUPS, MAX_TAGS

# every read sees every write acknowledged before it: a query right after ingest sees it
CONSISTENCY = "Strong"
HNSW_BUILD = {"M": 16, "efConstruction": 200}
BATCH = 1000  # rows per insert/get call, well under Milvus's message size limit
QUERY_HITS_PER_CALL = 16_384  # queries x k per search call
SCALARS = ("doc_key", "script", "tags", "access", "superseded")


def _pymilvus() -> Any:
    module = require("pymilvus", "'laoshifu[milvus]'")
    # its own ERROR logs repeat, with a traceback, what StoreError tells the caller
    logging.getLogger("pymilvus").setLevel(logging.CRITICAL)
    return module


class _Guarded:
    """The MilvusClient with every failure of a call turned into a StoreError naming it."""

    def __init__(self, client: Any, uri: str) -> None:
        self._client, self._uri = client, uri

    def __getattr__(self, name: str) -> Callable[..., Any]:
        method = getattr(self._client, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            try:
                return method(*args, **kwargs)
            except Exception as exc:  # MilvusException, grpc errors, connection resets
                raise StoreError(f"Milvus at {self._uri} failed in {name}: {exc}") from exc

        return call


@dataclass(frozen=True)
class MilvusTarget:
    uri: str  # a Milvus Lite file (./x.db), or http(s)://host:19530 of a server or cluster
    collection: str = "shifu"
    token: str | None = None
    db_name: str | None = None


class MilvusCollection:
    """One collection: chunk id, vector, and the scalars that filters and access run on."""

    def __init__(self, target: MilvusTarget, dim: int) -> None:
        options = {k: v for k, v in (("token", target.token), ("db_name", target.db_name)) if v}
        try:
            client = _pymilvus().MilvusClient(uri=target.uri, **options)
        except Exception as exc:  # pymilvus raises many types; all mean "cannot reach it"
            raise StoreError(f"cannot reach Milvus at {target.uri}: {exc}") from exc
        self._client = _Guarded(client, target.uri)
        self.name = target.collection
        self.dim = dim
        if not self._client.has_collection(self.name):
            self._create()
        self._check_dim()
        self._client.load_collection(self.name)  # a server keeps it released after a restart

    def _create(self) -> None:
        data_type = _pymilvus().DataType
        schema = self._client.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("id", data_type.INT64, is_primary=True)
        schema.add_field("vector", data_type.FLOAT_VECTOR, dim=self.dim)
        schema.add_field("doc_key", data_type.VARCHAR, max_length=1024)
        schema.add_field("script", data_type.VARCHAR, max_length=8)
        schema.add_field("tags", data_type.ARRAY, element_type=data_type.VARCHAR,
                         max_capacity=MAX_TAGS, max_length=16)  # fmt: skip
        schema.add_field("access", data_type.ARRAY, element_type=data_type.VARCHAR,
                         max_capacity=MAX_GROUPS + 1, max_length=16)  # fmt: skip
        schema.add_field("superseded", data_type.BOOL)
        index = self._client.prepare_index_params()
        index.add_index(field_name="vector", index_type="HNSW", metric_type="IP",
                        params=HNSW_BUILD)  # fmt: skip
        self._client.create_collection(self.name, schema=schema, index_params=index,
                                       consistency_level=CONSISTENCY)  # fmt: skip

    def _check_dim(self) -> None:
        fields = self._client.describe_collection(self.name).get("fields", [])
        dims = [f.get("params", {}).get("dim") for f in fields if f.get("name") == "vector"]
        if not dims or int(dims[0]) != self.dim:
            raise StoreError(
                f"Milvus collection {self.name!r} holds vectors of dim {dims[0] if dims else '?'}"
                f", not {self.dim}; use another SHIFU_MILVUS_COLLECTION"
            )

    def upsert(self, rows: Sequence[dict[str, Any]]) -> None:
        for batch in _batches(list(rows)):
            self._client.upsert(self.name, batch)

    def delete(self, ids: Sequence[int]) -> None:
        for batch in _batches([int(i) for i in ids]):
            self._client.delete(self.name, ids=batch)

    def delete_from(self, first_id: int) -> None:
        """Remove every chunk id >= first_id: what a crashed writer added and never committed."""
        self._client.delete(self.name, filter=f"id >= {int(first_id)}")

    def rows(self, ids: Sequence[int]) -> list[dict[str, Any]]:
        """Full rows (vector and scalars) by chunk id; missing ids are left out."""
        found: list[dict[str, Any]] = []
        for batch in _batches([int(i) for i in ids]):
            got = self._client.get(self.name, ids=batch, output_fields=["vector", *SCALARS])
            found.extend(dict(row) for row in got)
        return found

    def ids_from(self, first_id: int, limit: int) -> list[int]:
        got = self._client.query(self.name, filter=f"id >= {int(first_id)}",
                                 output_fields=["id"], limit=limit)  # fmt: skip
        return sorted(int(row["id"]) for row in got)

    def search(
        self, queries: np.ndarray, k: int, expression: str, with_vectors: bool
    ) -> list[list[tuple[int, float, np.ndarray | None]]]:
        """Top-k per query; queries go in groups so one reply stays within Milvus's limits
        (evaluation asks for 1000 hits of hundreds of queries)."""
        rows: list[list[tuple[int, float, np.ndarray | None]]] = []
        per_call = max(1, QUERY_HITS_PER_CALL // max(k, 1))
        for start in range(0, len(queries), per_call):
            hits = self._client.search(
                self.name, data=np.asarray(queries[start : start + per_call], np.float32).tolist(),
                limit=k, filter=expression, output_fields=["vector"] if with_vectors else [],
                search_params={"metric_type": "IP", "params": {"ef": max(64, k)}},
                consistency_level=CONSISTENCY,
            )  # fmt: skip
            rows.extend([_hit(h, with_vectors) for h in row] for row in hits)
        return rows

    def count(self) -> int:
        got = self._client.query(self.name, filter="", output_fields=["count(*)"])
        return int(got[0]["count(*)"])

    def drop(self) -> None:
        self._client.drop_collection(self.name)

    def close(self) -> None:
        self._client.close()


def _hit(hit: Any, with_vectors: bool) -> tuple[int, float, np.ndarray | None]:
    vector = np.asarray(hit["entity"]["vector"], dtype=np.float32) if with_vectors else None
    return int(hit["id"]), float(hit["distance"]), vector


def _batches(items: list[Any]) -> Iterator[list[Any]]:
    for start in range(0, len(items), BATCH):
        yield items[start : start + BATCH]
