"""Run a producer ahead of its consumer: reading, parsing and OCR of the next files go on in a
thread while the model embeds the chunks of the files before them."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import TypeVar

T = TypeVar("T")
_DONE = object()


def prefetched(items: Iterator[T], depth: int) -> Iterator[T]:
    """`items` produced in a thread, at most `depth` ahead; its exception is raised here, and
    a consumer that stops early stops the producer at its next item."""
    ready: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                if not _put(ready, item, stop):
                    return
            _put(ready, _DONE, stop)
        except BaseException as exc:  # handed to the consumer, which raises it
            _put(ready, exc, stop)

    worker = threading.Thread(target=produce, name="shifu-load", daemon=True)
    worker.start()
    try:
        while (got := ready.get()) is not _DONE:
            if isinstance(got, BaseException):
                raise got
            yield got  # type: ignore[misc]
    finally:
        stop.set()
        worker.join()


def _put(ready: queue.Queue[object], item: object, stop: threading.Event) -> bool:
    while not stop.is_set():
        try:
            ready.put(item, timeout=0.1)
            return True
        except queue.Full:
            continue
    return False
