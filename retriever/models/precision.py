"""The arithmetic precision of model inference: bf16 where the CPU computes it natively (Intel
AMX-BF16 or AVX-512 BF16), else fp32. bf16 runs the model's matrix products under
`torch.autocast`, which keeps the weights and the reductions (layer norms, softmax, pooling) in
fp32: vectors agree with fp32 to a cosine of 0.9999 and retrieval scores do not move, at about
2.7x the speed (../shared/MODELS.md)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Literal, get_args

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


# autocast casts the weights to bf16 on every model call: for one or two texts (a question)
# that costs more than it saves. Measured per question: 1 text fp32 30.5 ms, bf16 35.4; 2: 19.2,
# 19.6; 4: 13.3, 12.1; 8: 10.9, 9.0
BF16_FROM_TEXTS = 4


def for_call(precision: Precision, texts: int) -> Precision:
    """The precision one model call of `texts` texts runs at."""
    return precision if texts >= BF16_FROM_TEXTS else "fp32"


@contextlib.contextmanager
def inference(precision: Precision) -> Iterator[None]:
    """Model calls inside run at `precision` (torch is loaded by then: the model needs it)."""
    if precision == "fp32":
        yield
        return
    torch = require("torch", "torch")
    with torch.autocast("cpu", dtype=torch.bfloat16):
        yield
