"""Backup and restore times: the sample corpus, and a home of about 10k chunks (SciFact
abstracts from ../shared/evaldata as text files), each backed up while served and restored.

    python -m bench.backup_restore [--chunks 10000]

Homes are indexed with the fake encoder of tests/fakes.py (1024-dimensional, so the vectors
weigh more than the default model's 384); the backup runs while a thread queries the home,
the restore is checked against the original by its answers to one question.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import threading
import time
from pathlib import Path

from ingest.pipeline import ingest
from retriever.store.index_store import IndexStore
from service.backup import backup, restore
from service.runtime import Runtime
from service.settings import Settings
from tests.fakes import FakeEncoder

REPO = Path(__file__).resolve().parents[1]
SCIFACT = REPO.parent / "shared" / "evaldata" / "scifact" / "corpus.jsonl"
QUESTION = "cerebral white matter diffusion"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--chunks", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        sample = shutil.copytree(REPO / "corpus", root / "sample")
        _measure("sample corpus", [sample], root / "a")
        _measure(f"scifact ({args.chunks}+ chunks)", [_scifact(root / "sci", args.chunks)],
                 root / "b")  # fmt: skip


def _scifact(folder: Path, chunks: int) -> Path:
    """Abstracts as text files, enough for about `chunks` chunks."""
    folder.mkdir()
    with SCIFACT.open() as lines:
        for n, line in enumerate(lines):
            if n * 2.3 > chunks:  # SciFact abstracts make about 2.4 chunks each
                break
            doc = json.loads(line)
            (folder / f"{doc['_id']}.txt").write_text(f"{doc['title']}\n\n{doc['text']}\n")
    return folder


def _measure(name: str, sources: list[Path], work: Path) -> None:
    encoder = FakeEncoder()
    began = time.perf_counter()
    summary = ingest(sources, IndexStore(work / "home"), encoder)
    built = time.perf_counter() - began
    runtime = Runtime(Settings(home=work / "home"), encoder_factory=lambda _: encoder)
    before = [p.citation.label for p in runtime.query(QUESTION, 5).passages]
    stop = threading.Event()
    queries = threading.Thread(target=_query_until, args=(runtime, stop))
    queries.start()
    try:
        taken = backup(Settings(home=work / "home"), work / "backup")
    finally:
        stop.set()
        queries.join()
    restored = restore(work / "backup", Settings(home=work / "restored"))
    again = Runtime(Settings(home=work / "restored"), encoder_factory=lambda _: encoder)
    same = [p.citation.label for p in again.query(QUESTION, 5).passages] == before
    print(f"{name}: {summary.chunks} chunks (indexed in {built:.1f} s); backup "
          f"{taken.files} files, {taken.bytes / 1e6:.1f} MB in {taken.seconds:.2f} s while "
          f"serving; restore (checksums verified) {restored.seconds:.2f} s; same answers: "
          f"{same}")  # fmt: skip


def _query_until(runtime: Runtime, stop: threading.Event) -> None:
    while not stop.is_set():
        runtime.query(QUESTION, 5)


if __name__ == "__main__":
    main()
