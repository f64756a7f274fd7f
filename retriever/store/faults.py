"""Fault injection for the crash-safety test: with SHIFU_CRASH_AT=NAME or NAME:N set, the
process kills itself with SIGKILL the N-th time it passes crash_point(NAME). Unset (always, in
production) a crash point costs one environment lookup."""

from __future__ import annotations

import os
import signal

ENV = "SHIFU_CRASH_AT"


def crash_point(name: str) -> None:
    target = os.environ.get(ENV)
    if not target:
        return
    # point names contain colons themselves ("commit:begin"); only a trailing number counts
    wanted, _, count = target.rpartition(":")
    if not count.isdigit():
        wanted, count = target, ""
    if wanted != name:
        return
    remaining = int(count or 1)
    if remaining > 1:  # the countdown lives in this process's own environment
        os.environ[ENV] = f"{name}:{remaining - 1}"
        return
    os.kill(os.getpid(), signal.SIGKILL)
