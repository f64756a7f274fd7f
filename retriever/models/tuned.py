"""Where a home's tuned models live and what each records; the one module that spells it.

    HOME/models/tuned/
      multilingual-e5-small-tune-000002/   a sentence-transformers folder, never changed
        tune.json                          base, parent, steps, seed, pairs, hash, eval figures
      .multilingual-e5-small-tune-000003.tmp-PID/   a tune in progress, renamed when complete

Which model a home uses is what its live index generation's manifest names: adopting a tuned
model (or rolling back) is the commit of a re-embedded generation, so index and model can
never disagree, even after a crash."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from retriever.fsutil import file_blocks, fsync_tree
from retriever.models.encoder import model_name

TUNED_DIR = Path("models") / "tuned"
TUNE_MANIFEST = "tune.json"
_SUFFIX = "-tune-"


@dataclass(frozen=True)
class TunedModel:
    name: str  # the folder's name, which index manifests record
    base: str  # the model setting it descends from (multilingual-e5-small)
    parent: str  # the model it was tuned from: the base, or an earlier tune
    steps: int
    seed: int
    learning_rate: float
    batch_size: int
    pairs: Mapping[str, int]  # training pairs by source
    seconds: float
    weights_sha256: str
    created_at: float
    evaluation: Mapping[str, Any] = field(default_factory=dict)  # the gate's figures


def tuned_root(home: Path) -> Path:
    return home / TUNED_DIR


def tuned_folder(home: Path, name: str) -> Path | None:
    """The folder of tuned model `name` in this home, None when `name` is not one."""
    folder = tuned_root(home) / name
    return folder if _SUFFIX in name and (folder / TUNE_MANIFEST).is_file() else None


def read_tuned(folder: Path) -> TunedModel:
    data = json.loads((folder / TUNE_MANIFEST).read_text(encoding="utf-8"))
    return TunedModel(**data)


def active_model(home: Path, setting: str, live_model: str | None) -> str:
    """The model setting a home's index needs: its tuned model's folder when the live
    generation was embedded by one tuned from `setting`, else `setting` itself."""
    folder = tuned_folder(home, live_model) if live_model else None
    if folder is not None and read_tuned(folder).base == model_name(setting):
        return str(folder)
    return setting


def next_name(home: Path, base: str) -> str:
    taken = [p.name for p in tuned_root(home).glob(f"*{_SUFFIX}*") if p.is_dir()]
    numbers = [int(n.rsplit(_SUFFIX, 1)[1]) for n in taken if n.rsplit(_SUFFIX, 1)[1].isdigit()]
    return f"{model_name(base)}{_SUFFIX}{max(numbers, default=0) + 1:06d}"


def staging_for(home: Path, name: str) -> Path:
    """An empty folder to save a tune into, beside where it will be published."""
    staging = tuned_root(home) / f".{name}.tmp-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    return staging


def publish_tuned(staging: Path, record: TunedModel) -> Path:
    """Write the record and rename the complete folder into place (a crash before leaves only
    a staging folder, which `remove_stale` clears)."""
    (staging / TUNE_MANIFEST).write_text(json.dumps(asdict(record), indent=2, ensure_ascii=False))
    fsync_tree(staging)
    final = staging.parent / record.name
    os.replace(staging, final)
    return final


def remove_stale(home: Path) -> None:
    for leftover in tuned_root(home).glob(".*.tmp-*"):
        shutil.rmtree(leftover, ignore_errors=True)


def weights_hash(folder: Path) -> str:
    """sha256 over the folder's weight files, in name order."""
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*.safetensors")):
        for block in file_blocks(path):
            digest.update(block)
    return digest.hexdigest()
