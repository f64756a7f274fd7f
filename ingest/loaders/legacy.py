"""Legacy Office files (.doc, .xls, .ppt) -> their modern format through LibreOffice headless,
when `soffice` is on the PATH; else a per-file error that names what to install."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

from ingest.loaders.extracted import Extracted

TARGETS = {".doc": "docx", ".xls": "xlsx", ".ppt": "pptx"}
CONVERT_SECONDS = 180
INSTALL_HINT = "apt-get install libreoffice-writer libreoffice-calc libreoffice-impress"


class LegacyError(ValueError):
    """The legacy file cannot be converted."""


def converted(path: Path, read: Callable[[Path], Extracted]) -> Extracted:
    """`read` applied to the converted copy, which lives only while it is read."""
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    target = TARGETS[path.suffix.lower()]
    if soffice is None:
        raise LegacyError(
            f"{path.suffix} files need LibreOffice to convert them ({INSTALL_HINT}), "
            f"or save the file as .{target}"
        )
    with tempfile.TemporaryDirectory(prefix="shifu-convert-") as folder:
        command = [soffice, "--headless", "--norestore", f"-env:UserInstallation=file://{folder}/u",
                   "--convert-to", target, "--outdir", folder, str(path)]  # fmt: skip
        try:
            done = subprocess.run(
                command, capture_output=True, timeout=CONVERT_SECONDS, check=False
            )
        except subprocess.TimeoutExpired as exc:
            raise LegacyError(f"LibreOffice took over {CONVERT_SECONDS} s to convert it") from exc
        result = Path(folder) / f"{path.stem}.{target}"
        if done.returncode != 0 or not result.is_file():
            why = done.stderr.decode(errors="replace").strip()[-200:] or "no output file"
            raise LegacyError(f"LibreOffice could not convert it ({why})")
        return read(result)
