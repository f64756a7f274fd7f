"""Commands that need no model never load it: an unchanged re-ingest does not even import torch,
and a BM25 query runs without the model."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ingest.pipeline import ingest
from retriever.models.encoder import DEFAULT_MODEL
from retriever.store.index_store import IndexStore
from service import runtime as runtime_module
from service.runtime import Runtime
from service.settings import Settings
from tests.conftest import REPO, SAMPLE_FILES
from tests.fakes import FakeEncoder

HEAVY = ("torch", "sentence_transformers", "transformers")
REINGEST = f"""
import json, sys
from service import cli
try:
    cli.app(["ingest", sys.argv[1], "--home", sys.argv[2], "--json"], prog_name="shifu")
except SystemExit as exit:
    code = exit.code
print(json.dumps({{"exit": code, "heavy": sorted(set({HEAVY!r}) & set(sys.modules))}}))
"""


class DefaultNamed(FakeEncoder):
    """Writes an index under the default model's name, as `shifu ingest` with the model would."""

    name = DEFAULT_MODEL


def test_an_unchanged_reingest_does_not_import_torch(tmp_path: Path, corpus_copy: Path) -> None:
    home = tmp_path / "home"
    ingest([corpus_copy], IndexStore(home), DefaultNamed())
    done = subprocess.run(
        [sys.executable, "-c", REINGEST, str(corpus_copy), str(home)],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    lines = done.stdout.strip().splitlines()
    assert lines, done.stderr
    summary, outcome = json.loads(lines[0]), json.loads(lines[-1])
    assert outcome == {"exit": 0, "heavy": []}, done.stderr
    assert (summary["unchanged"], summary["added"], summary["updated"]) == (SAMPLE_FILES, 0, 0)


def test_a_changed_file_still_loads_the_model_and_is_ingested(
    tmp_path: Path, corpus_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store, loads = IndexStore(tmp_path / "home"), []
    ingest([corpus_copy], store, DefaultNamed())

    def load(settings: Settings) -> FakeEncoder:
        loads.append(settings.model)
        return DefaultNamed()

    monkeypatch.setattr(runtime_module, "default_encoder", load)  # the default model's loader
    runtime = Runtime(Settings(home=tmp_path / "home"))
    assert runtime.ingest([corpus_copy], prune=False, progress=None).unchanged == SAMPLE_FILES
    assert loads == []
    (corpus_copy / "note.md").write_text("# Note\n\nCheck the hopper dryer at 80 °C.\n")
    summary = runtime.ingest([corpus_copy], prune=False, progress=None)
    assert (summary.added, summary.unchanged, len(loads)) == (1, SAMPLE_FILES, 1)


def test_a_bm25_query_runs_without_the_model(tmp_path: Path, corpus_copy: Path) -> None:
    ingest([corpus_copy], IndexStore(tmp_path / "home"), FakeEncoder())

    def refuse(settings: Settings) -> FakeEncoder:
        raise AssertionError("a BM25 query must not load the model")

    runtime = Runtime(Settings(home=tmp_path / "home"), refuse)
    result = runtime.query("lockout main disconnect padlock", 3, mode="bm25")
    assert result.passages and result.passages[0].citation.doc_id == "SOP-MT-001"
    assert not runtime.encoder_loaded


def test_highlight_sentences_reach_the_sentence_cache(tmp_path: Path, corpus_copy: Path) -> None:
    encoder = FakeEncoder()
    ingest([corpus_copy], IndexStore(tmp_path / "home"), encoder)
    runtime = Runtime(Settings(home=tmp_path / "home"), lambda _: encoder)
    question = "堆高機翻車時該怎麼做？"  # English forklift passages: sentences get embedded
    english = {"doc_id": ["SOP-FL-003"]}
    before = len(encoder.embedded)
    first = runtime.query(question, 3, mode="dense", filters=english)
    embedded = len(encoder.embedded)
    assert embedded > before, "a Chinese question on English passages embeds their sentences"
    again = runtime.query(question, 3, mode="dense", filters=english)
    assert [p.highlight for p in again.passages] == [p.highlight for p in first.passages]
    assert len(encoder.embedded) == embedded, "the second time, every sentence is cached"
