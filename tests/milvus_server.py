"""A real Milvus server for the integration tests: PyPI's `milvus` package (the embedded
standalone server, its binaries inside the wheel), on loopback only, its data in a temporary
folder, one at a time on this machine (it listens on fixed ports)."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

LOCK = Path("/tmp/shifu-milvus-server.lock")


def unavailable(reason: str) -> None:
    """Skip, or fail on CI, where a server test must not pass silently."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"Milvus server tests cannot run on CI: {reason}")
    pytest.skip(reason)


@contextmanager
def milvus_server(data: Path) -> Iterator[Any]:
    """Yields the started server (`.listen_port`, `.stop()`, `.start()`)."""
    try:
        from milvus import default_server
    except ImportError as exc:
        unavailable(f"the milvus package is missing ({exc}); pip install 'laoshifu[dev]'")
    with LOCK.open("a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # fixed ports: wait for another run's server
        default_server.set_base_dir(str(data))
        default_server.listen_address = "127.0.0.1"
        default_server.start()
        try:
            yield default_server
        finally:
            default_server.stop()


def server_uri(server: Any) -> str:
    return f"http://127.0.0.1:{server.listen_port}"
