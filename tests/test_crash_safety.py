"""Crash safety of ingest: a SIGKILL at any point never loses the live index.

What this proves: an ingest process killed with SIGKILL (through
`retriever.store.faults.crash_point`, armed with SHIFU_CRASH_AT=NAME:N) at 24 points across
discovering, loading, embedding, writing and the generation swap leaves an index that opens and
answers queries with exactly the previous generation's content (or, once CURRENT names the new
generation, exactly the new content), and re-running the ingest then completes with the new
content, leaves no staging folder behind and frees the writer lock.

The baseline is two generations (so that pruning at commit really removes one); the killed
ingest edits two files, adds two and deletes one, and runs in a subprocess whose encoder reports
progress every BATCH texts, so the per-file and per-batch points can be hit at several counts.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from ingest.pipeline import IngestSummary, ingest
from retriever.ranking.search import search
from retriever.store.faiss_index import VectorIndex
from retriever.store.faults import ENV as CRASH_ENV
from retriever.store.index_store import IndexStore
from tests.conftest import REPO
from tests.fakes import FakeEncoder
from tests.test_crash_migrate import POINTS as MIGRATION_POINTS

FOLDERS = ("sop", "interviews")  # a small corpus: subprocess start-up dominates the run time
BATCH = 2  # texts per progress report of the killed process's encoder
BASELINE_EDIT = "sop/SOP-MT-001_lockout-tagout.md"  # generation 2 differs from 1 here
TORQUE = "sop/SOP-QC-021_torque-check.txt"
WANG = "interviews/interview-wang-flash-2024-03-12.txt"
NEW_SOP = "sop/SOP-PK-099_pallet-wrap.md"
EDITED = {
    WANG: (
        "[00:14:00] 林工程師：最後一個問題，毛邊樣品要保留多久？\n"
        "[00:14:06] 王師傅：毛邊樣品 keep the flash samples for zebrafinch review 三個月。\n"
    ),
    TORQUE: ("7) 每週校正扭力計 calibrate the torque tester weekly against the zebramark gauge.\n"),
}
ADDED = {
    NEW_SOP: "---\ndoc_id: SOP-PK-099\ntitle: Pallet Stretch Wrapping\n"
    "revision: A\ndoc_type: sop\n---\n# SOP-PK-099 Pallet Stretch Wrapping\n"
    + "".join(
        f"\n## {i}. {title}\n\n{title} of the pallet wrapper: check the {title.lower()} before "
        f"each pallet, record it on form PK-099-{i} and stop the wrapper when it is out of range.\n"
        for i, title in enumerate(
            ("Film roll", "Pre-stretch", "Turntable", "Top sheet", "Cut and seal", "Labels"), 1
        )
    ),
    "sop/NOTE-line6-handover.txt": "Line 6 handover note: the quokka pallet wrapper on W2 was "
    "moved to dock 4; night shift signs the handover sheet.\n",
}
DELETED = "sop/SOP-FL-003_forklift.txt"
PROBES = (
    "calibrate the torque tester weekly zebramark",  # an edited file's new text
    "keep the flash samples for zebrafinch review",  # the other edited file
    "pallet wrapper film roll pre-stretch turntable",  # a new file
    "forklift pre-shift inspection",  # the deleted file
    "lock removal by supervisor absent worker",  # the baseline's own edit
)
SWITCHED = frozenset({"commit:current", "commit:pruned"})  # CURRENT already names the new one

# The killed ingest passes each point once, except ingest:loaded, :embedded and :written (once
# per changed file: 4) and ingest:embedding (once per batch of BATCH texts: 5).
CASES = [
    ("ingest:discovered", 1),
    ("writer:staged", 1),
    ("ingest:loaded", 1),
    ("ingest:loaded", 2),
    ("ingest:loaded", 3),
    ("ingest:loaded", 4),
    ("ingest:embedding", 1),
    ("ingest:embedding", 2),
    ("ingest:embedding", 3),
    ("ingest:embedding", 5),  # the last batch
    ("ingest:embedded", 1),
    ("ingest:embedded", 3),
    ("ingest:embedded", 4),
    ("ingest:written", 1),
    ("ingest:written", 2),
    ("ingest:written", 4),
    ("commit:begin", 1),
    ("commit:derived", 1),
    ("commit:vectors", 1),
    ("commit:manifest", 1),
    ("commit:fsynced", 1),
    ("commit:renamed", 1),
    ("commit:current", 1),
    ("commit:pruned", 1),
]
# What a kill leaves in the index folder: generation folders, and whether a staging folder is
# left over (every point between opening the writer and renaming the staged generation).
LEFT_BY_CRASH: dict[str, tuple[tuple[int, ...], bool]] = {
    "ingest:discovered": ((1, 2), False),
    "commit:renamed": ((1, 2, 3), False),
    "commit:current": ((1, 2, 3), False),
    "commit:pruned": ((2, 3), False),
}
LEFT_MID_INGEST = ((1, 2), True)

KILLED_INGEST = f"""
import sys
from pathlib import Path

import numpy as np

from ingest.pipeline import ingest
from retriever.store.index_store import IndexStore
from tests.fakes import FakeEncoder


class BatchedEncoder(FakeEncoder):
    def encode_passages(self, texts, progress=None):
        parts = []
        for start in range(0, len(texts), {BATCH}):
            parts.append(FakeEncoder.encode_passages(self, texts[start:start + {BATCH}], progress))
        return np.vstack(parts) if parts else np.zeros((0, self.dim), dtype=np.float32)


ingest([Path(sys.argv[1])], IndexStore(Path(sys.argv[2])), BatchedEncoder(), prune=True)
"""


@dataclass(frozen=True)
class IndexState:
    """Everything a reader sees of the live generation, independent of where the home lies."""

    generation: int
    count: int
    next_chunk_id: int
    documents: tuple[tuple[str, str, bool], ...]  # source, content hash, superseded
    chunks: tuple[tuple[int, str, str], ...]  # chunk id, source, text hash
    vector_ids: tuple[int, ...]
    hits: tuple[tuple[int, ...], ...]  # top chunk ids per probe question

    @property
    def sources(self) -> set[str]:
        return {source for source, _, _ in self.documents}


@dataclass(frozen=True)
class Reference:
    old: IndexState  # the baseline (generation 2)
    new: IndexState  # after an uninterrupted second ingest (generation 3)


def index_state(home: Path) -> IndexState:
    snapshot = IndexStore(home).snapshot()
    assert snapshot is not None, "the index must open"
    try:
        rows = snapshot.chunk_rows(sorted(snapshot.chunk_docs()))
        vector_ids, _ = VectorIndex.read(snapshot.folder / "vectors.faiss").everything()
        encoder = FakeEncoder()
        hits = [search(snapshot, encoder, probe, k=3).passages for probe in PROBES]
        return IndexState(
            generation=snapshot.manifest.generation,
            count=snapshot.manifest.count,
            next_chunk_id=snapshot.manifest.next_chunk_id,
            documents=tuple(
                sorted((d.source, d.content_hash, d.superseded) for d in snapshot.documents())
            ),
            chunks=tuple(
                (cid, row.document.source, row.text_hash) for cid, row in sorted(rows.items())
            ),
            vector_ids=tuple(sorted(vector_ids)),
            hits=tuple(tuple(p.chunk_id for p in passages) for passages in hits),
        )
    finally:
        snapshot.close()


def build_baseline(root: Path) -> tuple[Path, Path]:
    """A corpus and a home whose live index is generation 2 (generation 1 still on disk)."""
    corpus, home = root / "corpus", root / "home"
    for folder in FOLDERS:
        shutil.copytree(REPO / "corpus" / folder, corpus / folder)
    assert ingest([corpus], IndexStore(home), FakeEncoder()).generation == 1
    with (corpus / BASELINE_EDIT).open("a", encoding="utf-8") as handle:
        handle.write("\nThe supervisor logs every lock removal for the absent worker.\n")
    assert ingest([corpus], IndexStore(home), FakeEncoder()).generation == 2
    return corpus, home


def change_corpus(corpus: Path) -> None:
    for name, line in EDITED.items():
        with (corpus / name).open("a", encoding="utf-8") as handle:
            handle.write(line)
    for name, text in ADDED.items():
        (corpus / name).write_text(text, encoding="utf-8")
    (corpus / DELETED).unlink()


def ingest_again(corpus: Path, home: Path) -> IngestSummary:
    summary = ingest([corpus], IndexStore(home), FakeEncoder(), prune=True)
    assert summary.failures == []
    return summary


def assert_new_content(state: IndexState) -> None:
    for name in (*EDITED, *ADDED):
        assert name in state.sources
    assert DELETED not in state.sources
    by_id = {cid: source for cid, source, _ in state.chunks}
    tops = [by_id[hits[0]] for hits in state.hits[:3]]
    assert tops == [TORQUE, WANG, NEW_SOP], "the new text must be what the probes find"


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Reference:
    """The states a crash may leave, computed once without any crash."""
    corpus, home = build_baseline(tmp_path_factory.mktemp("reference"))
    old = index_state(home)
    change_corpus(corpus)
    summary = ingest_again(corpus, home)
    assert (summary.added, summary.updated, summary.removed) == (len(ADDED), len(EDITED), 1)
    new = index_state(home)
    assert (old.generation, new.generation) == (2, 3)
    assert DELETED in old.sources
    assert_new_content(new)
    return Reference(old, new)


def run_killed_ingest(corpus: Path, home: Path, point: str, n: int) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO), CRASH_ENV: f"{point}:{n}"}
    done = subprocess.run(
        [sys.executable, "-c", KILLED_INGEST, str(corpus), str(home)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == -signal.SIGKILL, (
        f"the ingest was not killed at {point} #{n} (exit status {done.returncode}); "
        f"is the crash point still there?\n{done.stderr}"
    )


def index_layout(home: Path) -> tuple[list[str], list[str], str]:
    """Generation folders, staging leftovers and what CURRENT names."""
    root = IndexStore(home).root
    generations = sorted(p.name for p in root.glob("gen-*"))
    leftovers = sorted(p.name for p in root.glob(".*.tmp-*"))
    return generations, leftovers, (root / "CURRENT").read_text().strip()


def assert_crash_left(home: Path, point: str) -> None:
    numbers, staged = LEFT_BY_CRASH.get(point, LEFT_MID_INGEST)
    generations, leftovers, current = index_layout(home)
    assert generations == [f"gen-{n:06d}" for n in numbers]
    assert current == ("gen-000003" if point in SWITCHED else "gen-000002")
    assert [name.startswith(".gen-000003.tmp-") for name in leftovers] == ([True] if staged else [])


def assert_clean_after_rerun(home: Path) -> None:
    generations, leftovers, current = index_layout(home)
    assert current == "gen-000003"
    assert generations[-2:] == ["gen-000002", "gen-000003"]
    assert leftovers == []
    IndexStore(home).writer(FakeEncoder.name, FakeEncoder.dim).abort()  # the lock is free


@pytest.mark.parametrize(("point", "n"), CASES, ids=[f"{p}#{n}" for p, n in CASES])
def test_killed_ingest_keeps_the_index_and_reruns(
    tmp_path: Path, reference: Reference, point: str, n: int
) -> None:
    corpus, home = build_baseline(tmp_path)
    assert index_state(home) == reference.old
    change_corpus(corpus)

    run_killed_ingest(corpus, home, point, n)

    assert_crash_left(home, point)
    expected = reference.new if point in SWITCHED else reference.old
    assert index_state(home) == expected
    summary = ingest_again(corpus, home)
    if point in SWITCHED:
        assert (summary.generation, summary.unchanged) == (None, len(reference.new.documents))
    else:
        assert summary.generation == 3
        assert (summary.added, summary.updated, summary.removed) == (len(ADDED), len(EDITED), 1)
    assert index_state(home) == reference.new
    assert_new_content(index_state(home))
    assert_clean_after_rerun(home)


def test_every_crash_point_in_the_code_has_a_case() -> None:
    sources = [*(REPO / "ingest").rglob("*.py"), *(REPO / "retriever").rglob("*.py")]
    found = {
        name
        for path in sources
        for name in re.findall(r'crash_point\("([^"]+)"\)', path.read_text(encoding="utf-8"))
    }
    # re-embedding's point is killed in tests/test_tune.py
    assert found == {point for point, _ in CASES} | set(MIGRATION_POINTS) | {"reembed:embedded"}
