"""Settings from the environment (SHIFU_*) or arguments; created by callers, never at import."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from ingest.chunking.units import DEFAULT_CHUNK_TOKENS, DEFAULT_OVERLAP_TOKENS
from retriever.models.encoder import DEFAULT_MODEL
from retriever.models.precision import Setting as PrecisionSetting
from retriever.store.backend import VectorBackend
from retriever.store.faiss_backend import DenseIndex, FaissBackend
from retriever.store.milvus.backend import MilvusBackend
from retriever.store.milvus.collection import MilvusTarget

MIB = 1024 * 1024
LOOPBACK = ("127.0.0.1", "localhost", "::1")  # where --no-auth may bind


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SHIFU_", extra="ignore")

    home: Path = Field(default=Path(".shifu"), description="data home: index and model cache")
    model: str = Field(default=DEFAULT_MODEL, description="model name or local folder")
    models_dir: Path | None = Field(default=None, description="model cache (default HOME/models)")
    reranker: Path | None = Field(default=None, description="local CrossEncoder folder")
    chunk_tokens: int = Field(default=DEFAULT_CHUNK_TOKENS, ge=16, le=512)
    chunk_overlap: int = Field(default=DEFAULT_OVERLAP_TOKENS, ge=0, le=128)
    batch_size: int = Field(default=32, ge=1, le=512)
    precision: PrecisionSetting = Field(
        default="auto", description="model arithmetic: auto (bf16 where the CPU has it), bf16, fp32"
    )
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    public_url: str | None = Field(
        default=None, description="where `shifu serve` is reached, for the links `shifu mcp` "
        "gives (default http://HOST:PORT)",
    )  # fmt: skip
    max_question_chars: int = Field(default=2000, ge=1)
    auth: bool = Field(default=True, description="require an API key on /v1/ routes")
    keys_file: Path | None = Field(default=None, description="API keys (default HOME/keys.yaml)")
    api_keys: list[dict[str, Any]] = Field(
        default_factory=list, description="more keys, as JSON: [{id, sha256, role, groups}]"
    )
    max_body_bytes: int = Field(default=64 * 1024, ge=1024, description="JSON request bodies")
    max_upload_bytes: int = Field(default=50 * MIB, ge=1024, description="one upload request")
    max_upload_files: int = Field(default=20, ge=1)
    background_upload_bytes: int = Field(
        default=2 * MIB, ge=0, description="uploads larger than this are ingested as a job"
    )
    log_json: bool = Field(default=True, description="structured JSON logs from `shifu serve`")
    store: Literal["faiss", "milvus"] = Field(default="faiss", description="where vectors live")
    dense_index: DenseIndex = Field(
        default="auto", description="FAISS search: auto (HNSW from 250k chunks), flat, hnsw"
    )
    milvus_uri: str | None = Field(
        default=None,
        description="Milvus Lite file or http(s)://host:19530 (default HOME/milvus.db)",
    )
    milvus_token: SecretStr | None = Field(default=None, description="user:password or API key")
    milvus_db: str | None = Field(default=None, description="Milvus database (default 'default')")
    milvus_collection: str = Field(default="shifu", pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,200}$")
    # per-key rate limits: RATE requests a second, bursts of BURST (service/ratelimit.py)
    rate_query: float = Field(default=20.0, ge=0, description="searches and reads a second "
                              "per key (0: no limit)")  # fmt: skip
    burst_query: int = Field(default=40, ge=1)
    rate_upload: float = Field(default=2.0, ge=0, description="uploads and deletions a second")
    burst_upload: int = Field(default=10, ge=1)
    rate_admin: float = Field(default=5.0, ge=0, description="admin reads a second")
    burst_admin: int = Field(default=20, ge=1)
    watch_debounce: float = Field(
        default=2.0, ge=0.05, le=3600, description="quiet seconds before a watched change is "
        "ingested (a copy in progress waits)",
    )  # fmt: skip
    watch_poll: float = Field(
        default=0.0, ge=0, le=3600, description="scan watched folders every N seconds instead "
        "of waiting for events (network shares; 0: events)",
    )  # fmt: skip
    watch_grace: float = Field(
        default=300.0, ge=0, description="a vanished watched folder's documents are kept this "
        "many seconds",
    )  # fmt: skip
    watch_rescan: float = Field(
        default=60.0, gt=0, description="full scan of watched folders this often, even with events"
    )
    ray_workers: int = Field(
        default=0, ge=0, le=1024, description="embed ingests on this many Ray actors (0: off)"
    )
    ray_address: str | None = Field(
        default=None, description="Ray cluster to join (default: a local one on this machine)"
    )

    @property
    def model_cache(self) -> Path:
        return self.models_dir or self.home / "models"

    @property
    def served_url(self) -> str:
        return self.public_url or f"http://{self.host}:{self.port}"

    @property
    def key_path(self) -> Path:
        return self.keys_file or self.home / "keys.yaml"

    @property
    def uploads_dir(self) -> Path:
        return self.home / "uploads"

    def milvus_target(self, collection: str | None = None) -> MilvusTarget:
        token = self.milvus_token.get_secret_value() if self.milvus_token else None
        uri = self.milvus_uri or str(self.home / "milvus.db")
        return MilvusTarget(uri, collection or self.milvus_collection, token, self.milvus_db)

    def vector_backend(self, collection: str | None = None) -> VectorBackend:
        """FAISS in the home, or Milvus (`collection` overrides the configured name)."""
        if self.store == "milvus":
            return MilvusBackend(self.milvus_target(collection))
        return FaissBackend(self.dense_index)
