"""The arithmetic precision of model inference: bf16 where the CPU computes it natively (Intel
AMX-BF16 or AVX-512 BF16), else fp32. bf16 runs the model's matrix products under
`torch.autocast`, which keeps the reductions (layer norms, softmax, pooling) in fp32: vectors
agree with fp32 to a cosine of 0.9999 and retrieval scores do not move, at about 2.7x the speed
(../shared/MODELS.md). A served model holds those products' weights in bf16 from the start
(`cast_linear_weights`); a model being trained keeps fp32 weights."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal, get_args

from retriever.lazy import require

Setting = Literal["auto", "bf16", "fp32"]
Precision = Literal["bf16", "fp32"]
SETTINGS: tuple[Setting, ...] = get_args(Setting)
BF16_FLAGS = frozenset({"amx_bf16", "avx512_bf16"})  # /proc/cpuinfo flags of native bf16
CPUINFO = Path("/proc/cpuinfo")


def cpu_flags(cpuinfo: Path = CPUINFO) -> frozenset[str]:
    """The CPU's feature flags (none where /proc/cpuinfo cannot be read: not Linux)."""
    try:
        text = cpuinfo.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return frozenset()
    for line in text.splitlines():
        name, _, value = line.partition(":")
        if name.strip() == "flags":
            return frozenset(value.split())
    return frozenset()


def resolve(setting: str, flags: frozenset[str] | None = None) -> Precision:
    """`auto`: bf16 when the CPU has native bf16, fp32 otherwise. An explicit `bf16` is kept
    on any CPU (torch emulates it there, slowly)."""
    if setting not in SETTINGS:
        raise ValueError(f"unknown precision {setting!r}; choose from {list(SETTINGS)}")
    if setting == "auto":
        return "bf16" if (cpu_flags() if flags is None else flags) & BF16_FLAGS else "fp32"
    return "bf16" if setting == "bf16" else "fp32"


def cast_linear_weights(model: Any) -> None:
    """For inference only: the weights of the matrix products (`Linear` layers) held in bf16
    once, not cast again by autocast on every model call. autocast runs those products in bf16
    from fp32 weights rounded the same way, so the vectors are bit-identical (measured); what
    changes is the cost of a small call: one question 30.3 -> 21.8 ms, no longer slower than
    fp32 (30.5 ms). Layer norms, embeddings and pooling keep fp32. A model so cast must run
    under `inference("bf16")`, and cannot be trained (tuning loads its own fp32 copy)."""
    torch = require("torch", "torch")
    for module in model.modules():
        if isinstance(module, torch.nn.Linear):
            module.to(torch.bfloat16)


@contextlib.contextmanager
def model_threads(count: int | None) -> Iterator[None]:
    """Model calls inside this block, on this thread, use `count` CPU threads (None: as set).
    torch's OpenMP thread count is per calling thread, so concurrent query calls can each take
    one core while an ingest on another thread keeps them all."""
    torch = sys.modules.get("torch")
    if count is None or torch is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@contextlib.contextmanager
def inference(precision: Precision) -> Iterator[None]:
    """Model calls inside run at `precision` (torch is loaded by then: the model needs it)."""
    if precision == "fp32":
        yield
        return
    torch = require("torch", "torch")
    with torch.autocast("cpu", dtype=torch.bfloat16):
        yield
