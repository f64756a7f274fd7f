"""One way to import a heavy or optional module late, with an install hint when it is missing."""

from __future__ import annotations

import functools
import importlib
from typing import Any


@functools.cache
def require(module: str, package: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise RuntimeError(f"{module} is missing: pip install {package}") from exc
