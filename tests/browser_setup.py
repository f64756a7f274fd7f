"""Debian's Chromium for the browser tests: installed with apt when missing, never downloaded by
Playwright. Without root the tests skip with the reason, except on CI, where they fail."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from tests.system_packages import apt, ensure_program

CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
_CJK_FONT = "fonts-wqy-microhei"  # 5 MB; without a CJK font screenshots show empty boxes


def ensure_chromium() -> Path:
    """The system Chromium's path, installing the `chromium` package first when it is absent."""
    if CHROMIUM.is_file():
        return CHROMIUM
    return ensure_program("chromium", "chromium")


def ensure_cjk_font() -> None:
    """Best effort: a Chinese font, so the screenshots can be read; the tests pass without."""
    if shutil.which("fc-list") is None or os.geteuid() != 0 or shutil.which("apt-get") is None:
        return
    listed = subprocess.run(["fc-list", ":lang=zh-tw"], capture_output=True, text=True)
    if listed.stdout.strip():
        return
    apt(["apt-get", "install", "-y", "--no-install-recommends", _CJK_FONT])
