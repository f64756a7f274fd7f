"""Debian packages a test needs beyond pip (Chromium, LibreOffice, a CJK font): installed with
apt when missing. Without root the tests skip with the reason, except on CI, where they fail."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

_APT_ENV = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}


def unavailable(reason: str) -> None:
    """Skip, or fail on CI, where a missing system package must not pass silently."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"cannot run on CI: {reason}")
    pytest.skip(reason)


def ensure_program(program: str, package: str) -> Path:
    """The program's path, installing its Debian package first when it is not on the PATH."""
    found = shutil.which(program)
    if found:
        return Path(found)
    install = ["apt-get", "install", "-y", "--no-install-recommends", package]
    if os.geteuid() != 0:
        unavailable(f"{program} is missing and only root can run: {' '.join(install)}")
    if shutil.which("apt-get") is None:
        unavailable(f"{program} is missing and apt-get is not available to install it")
    if not apt(install):
        apt(["apt-get", "update"])  # a fresh image may hold no package lists yet
        if not apt(install):
            unavailable(f"`{' '.join(install)}` failed; see its output above")
    found = shutil.which(program)
    if not found:
        unavailable(f"the {package} package installed, but {program} is still missing")
    return Path(str(found))


def apt(command: list[str]) -> bool:
    try:
        done = subprocess.run(command, env=_APT_ENV, capture_output=True, text=True, timeout=900)
    except (OSError, subprocess.TimeoutExpired) as exc:
        print(f"{' '.join(command)}: {exc}")
        return False
    if done.returncode != 0:
        print(f"{' '.join(command)} exited {done.returncode}:\n{done.stderr[-2000:]}")
    return done.returncode == 0
