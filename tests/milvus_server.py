"""A real Milvus server for the integration tests: PyPI's `milvus` package (the embedded
standalone server, its binaries inside the wheel), on loopback only, its data in a temporary
folder, one at a time on this machine (it listens on fixed ports)."""

from __future__ import annotations

import fcntl
import os
import time
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


READY_SECONDS = 300.0  # a busy 2-core machine starts Milvus slowly; the wait ends when ready


class ReadyServer:
    """The embedded server, started and restarted only as far as it answers: its health
    endpoint says OK (the package's own wait) *and* a real client call succeeds (the proxy can
    lag behind the health endpoint, most of all right after a restart on a loaded machine)."""

    def __init__(self, server: Any) -> None:
        self._server = server

    @property
    def listen_port(self) -> int:
        return int(self._server.listen_port)

    def start(self) -> None:
        self._server.start()
        wait_ready(server_uri(self))

    def stop(self) -> None:
        self._server.stop()


def wait_ready(uri: str, seconds: float = READY_SECONDS) -> None:
    """Until a client lists the collections at `uri`; else fail saying what was waited for."""
    from pymilvus import MilvusClient

    deadline, last = time.monotonic() + seconds, "no attempt"
    while time.monotonic() < deadline:
        try:
            MilvusClient(uri=uri, timeout=10).list_collections()
            return
        except Exception as exc:  # pymilvus raises many types; each means "not yet"
            last = f"{type(exc).__name__}: {exc}"
        time.sleep(0.5)
    raise AssertionError(f"Milvus at {uri} did not answer list_collections within "
                         f"{seconds:.0f} s after its health check passed; last error: {last}")


@contextmanager
def milvus_server(data: Path) -> Iterator[Any]:
    """Yields the started server (`.listen_port`, `.stop()`, `.start()`), ready for calls."""
    try:
        from milvus import default_server
    except ImportError as exc:
        unavailable(f"the milvus package is missing ({exc}); pip install 'laoshifu[dev]'")
    with LOCK.open("a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # fixed ports: wait for another run's server
        default_server.set_base_dir(str(data))
        default_server.listen_address = "127.0.0.1"
        server = ReadyServer(default_server)
        server.start()
        try:
            yield server
        finally:
            server.stop()


def server_uri(server: Any) -> str:
    return f"http://127.0.0.1:{server.listen_port}"
