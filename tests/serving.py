"""A real server for tests: the app under uvicorn on a loopback port of its own, waited for by
readiness with a bounded timeout (never by a sleep), and stopped at the end."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn


def wait_until(ready: Callable[[], Any], message: str, seconds: float = 30.0) -> None:
    """Poll `ready` until it is true; fail with `message` after `seconds` (a busy machine is
    slow, so the bound is generous and the wait ends as soon as the condition holds)."""
    deadline = time.monotonic() + seconds
    while not ready():
        if time.monotonic() > deadline:
            raise AssertionError(f"{message} (waited {seconds:.0f} s)")
        time.sleep(0.02)


@contextmanager
def served(app: Any) -> Iterator[str]:
    """The app on http://127.0.0.1:PORT, its lifespan run, until the block ends."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    try:
        wait_until(lambda: server.started or not thread.is_alive(), "uvicorn did not start")
        assert server.started, "uvicorn stopped while starting"
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        listener.close()
