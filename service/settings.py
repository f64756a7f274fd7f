"""Settings from the environment (SHIFU_*) or arguments; created by callers, never at import."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from retriever.encoder import DEFAULT_MODEL


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SHIFU_", extra="ignore")

    home: Path = Field(default=Path(".shifu"), description="data home: index and model cache")
    model: str = Field(default=DEFAULT_MODEL, description="model name or local folder")
    models_dir: Path | None = Field(default=None, description="model cache (default HOME/models)")
    reranker: Path | None = Field(default=None, description="local CrossEncoder folder")
    chunk_tokens: int = Field(default=256, ge=16, le=512)
    chunk_overlap: int = Field(default=32, ge=0, le=128)
    batch_size: int = Field(default=32, ge=1, le=512)
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    max_question_chars: int = Field(default=2000, ge=1)

    @property
    def model_cache(self) -> Path:
        return self.models_dir or self.home / "models"
