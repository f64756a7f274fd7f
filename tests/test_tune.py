"""`shifu tune`: training pairs from the sample corpus, a short reproducible tune, the gate that
keeps the current model, adoption and rollback, and a kill during re-embedding. The real small
model (all-MiniLM-L6-v2, 22M parameters) stands in for the default one: training it for a few
steps takes a second."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ingest.datasets.beir import load_beir, write_beir
from retriever.models.encoder import MINILM_MODEL, load_encoder
from retriever.models.tuned import read_tuned, tuned_folder, tuned_root, weights_hash
from retriever.tuning.pairs import SOURCES, Pair, normalised
from retriever.tuning.train import TuneConfig, train
from service import cli_common
from service.cli import app
from service.feedback import FEEDBACK_DB, FeedbackStore
from service.runtime import Runtime
from service.settings import Settings
from service.tuning import TuneError, rollback, training_pairs, tune
from tests.conftest import REPO
from tests.fakes import FakeEncoder

EVAL = REPO / "corpus" / "eval"
QUESTIONS = ("lockout steps before clearing a jam", "堆高機翻車時該怎麼做？", "how to adjust flash")
FAST = TuneConfig(steps=3, batch_size=4, learning_rate=1e-4, seed=7)
runner = CliRunner()


def minilm(home: Path) -> Settings:
    return Settings(home=home, model=MINILM_MODEL, precision="fp32")


@pytest.fixture(scope="module")
def minilm_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample SOPs, interviews and glossary, embedded by MiniLM once for the module."""
    home = tmp_path_factory.mktemp("tune") / "home"
    corpus = REPO / "corpus"
    Runtime(minilm(home)).ingest(
        [corpus / "sop", corpus / "interviews", corpus / "glossary.csv"], False, None
    )
    return home


@pytest.fixture
def home(minilm_home: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "home"
    shutil.copytree(minilm_home, copy)
    return copy


@pytest.fixture(scope="module")
def small_eval(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """corpus/eval's first 40 passages and the questions judged on them: a gate in seconds."""
    full = load_beir(EVAL)
    corpus = full.corpus[:40]
    ids = {entry.corpus_id for entry in corpus}
    judged = [q for q in full.queries if set(full.qrels[q.query_id]) <= ids]
    folder = tmp_path_factory.mktemp("eval") / "small"
    write_beir(
        folder,
        [{"_id": e.corpus_id, "title": e.title, "text": e.text} for e in corpus],
        [{"_id": q.query_id, "text": q.text} for q in judged],
        [(q.query_id, c, g) for q in judged for c, g in full.qrels[q.query_id].items()],
    )
    return folder


def answers(runtime: Runtime) -> list[list[tuple[str, float]]]:
    found = [runtime.query(q, 5, "hybrid") for q in QUESTIONS]
    return [[(p.citation.label, round(p.score, 4)) for p in r.passages] for r in found]


def test_pairs_of_the_sample_corpus_come_from_every_source_and_never_from_an_eval_question(
    tmp_path: Path, corpus_copy: Path
) -> None:
    encoder = FakeEncoder()
    runtime = Runtime(Settings(home=tmp_path / "home"), encoder_factory=lambda _: encoder)
    runtime.ingest([corpus_copy], False, None)
    eval_question = load_beir(EVAL).queries[0].text
    with runtime.reading() as snapshot:
        some_chunk = next(iter(snapshot.chunk_docs()))
    feedback = FeedbackStore(tmp_path / "home" / FEEDBACK_DB)
    for question, verdict in [("毛邊要怎麼處理", "helped"), ("毛邊要怎麼處理", "not_helped"),
                              (eval_question, "helped")]:  # fmt: skip
        feedback.add(question, some_chunk, verdict, "k", ("d", "text", "title"))
    feedback.add("how do I seal a carton", some_chunk, "helped", "k", ("d", "text", "title"))
    feedback.close()

    fresh = Runtime(Settings(home=tmp_path / "home"), encoder_factory=lambda _: encoder)
    pairs = training_pairs(fresh, EVAL, 0, None)

    by_source = {source: [p for p in pairs if p.source == source] for source in SOURCES}
    assert all(by_source.values()), {s: len(p) for s, p in by_source.items()}
    banned = {normalised(q.text) for q in load_beir(EVAL).queries}
    assert not [p.query for p in pairs if normalised(p.query) in banned]
    # the latest verdict decides: "did not help" replaced "helped" for the first question
    assert [p.query for p in by_source["feedback"]] == ["how do I seal a carton"]
    assert ("forklift", "堆高機") in {(p.query, p.passage) for p in by_source["glossary"]}
    assert any(p.negative for p in pairs)  # BM25 negatives, without the model
    assert not fresh.encoder_loaded


def test_a_dry_run_prints_counts_and_a_sample_and_a_tune_without_an_eval_set_is_refused(
    tmp_path: Path, corpus_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    encoder = FakeEncoder()
    monkeypatch.setattr(cli_common, "make_runtime",
                        lambda s: Runtime(s, encoder_factory=lambda _: encoder))  # fmt: skip
    home = tmp_path / "home"
    assert runner.invoke(app, ["ingest", str(corpus_copy), "--home", str(home)]).exit_code == 0

    dry = runner.invoke(app, ["tune", "--home", str(home), "--eval", str(EVAL), "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "training pairs:" in dry.output and "[glossary]" in dry.output
    refused = runner.invoke(app, ["tune", "--home", str(home)])
    assert refused.exit_code == 2 and "no eval set" in refused.output
    assert not tuned_root(home).exists()


def test_a_short_tune_changes_the_weights_and_repeats_with_its_seed(tmp_path: Path) -> None:
    topics = ["torque", "flash", "boilers", "forklifts"] * 3
    pairs = [Pair(f"question {n} about {topic}", f"passage on {topic}, case {n}", "cloze")
             for n, topic in enumerate(topics)]  # fmt: skip

    def tuned(seed: int) -> dict[str, object]:
        encoder = load_encoder(MINILM_MODEL, tmp_path, precision="fp32")
        train(encoder, pairs, TuneConfig(steps=3, batch_size=4, learning_rate=1e-4, seed=seed))
        return {k: v.clone() for k, v in encoder.model.state_dict().items()}

    original = load_encoder(MINILM_MODEL, tmp_path, precision="fp32").model.state_dict()
    first, again, other = tuned(1), tuned(1), tuned(2)
    layer = next(k for k in first if "encoder.layer.0.attention.self.query.weight" in k)
    assert not first[layer].equal(original[layer])  # type: ignore[attr-defined]
    assert all(first[k].equal(again[k]) for k in first)  # type: ignore[attr-defined]
    assert not first[layer].equal(other[layer])  # type: ignore[attr-defined]


def test_the_gate_keeps_the_current_model_when_the_eval_set_does_not_improve(
    home: Path, small_eval: Path
) -> None:
    runtime = Runtime(minilm(home))
    before, generation = answers(runtime), runtime.store.current_generation()

    outcome = tune(runtime, small_eval, TuneConfig(steps=2, batch_size=4, learning_rate=0.0))

    assert outcome.gate is not None and not outcome.gate.adopted
    assert outcome.gate.score(outcome.gate.after) == pytest.approx(
        outcome.gate.score(outcome.gate.before), abs=1e-6
    )
    assert runtime.store.current_generation() == generation
    assert not tuned_root(home).exists()
    assert answers(Runtime(minilm(home))) == before
    with pytest.raises(TuneError, match="nothing to roll back"):
        rollback(runtime)


def test_an_adopted_tune_is_served_and_rollback_restores_identical_results(
    home: Path, small_eval: Path
) -> None:
    serving = Runtime(minilm(home))  # a server that runs through the tune
    before = answers(serving)

    outcome = tune(Runtime(minilm(home)), small_eval, FAST, min_gain=-1.0)  # adopt regardless

    assert outcome.model is not None and outcome.model.endswith("-tune-000001")
    folder = tuned_folder(home, outcome.model)
    assert folder is not None
    record = read_tuned(folder)
    assert (record.base, record.parent, record.steps, record.seed) == (
        MINILM_MODEL, MINILM_MODEL, 3, 7)  # fmt: skip
    assert record.weights_sha256 == weights_hash(folder) and record.pairs["glossary"] > 0
    tuned_answers = answers(serving)  # follows the new generation: no model mismatch
    assert serving.settings.model == str(folder) and serving.encoder.name == outcome.model
    assert Runtime(minilm(home)).store.manifest().model == outcome.model  # type: ignore[union-attr]
    assert tuned_answers != before

    assert rollback(Runtime(minilm(home))) == MINILM_MODEL
    assert answers(Runtime(minilm(home))) == before
    assert answers(serving) == before


def test_a_kill_during_re_embedding_leaves_the_previous_generation_and_model(
    home: Path, small_eval: Path
) -> None:
    before, generation = answers(Runtime(minilm(home))), Runtime(minilm(home)).store.manifest()
    env = {**os.environ, "SHIFU_MODEL": MINILM_MODEL, "SHIFU_PRECISION": "fp32",
           "SHIFU_CRASH_AT": "reembed:embedded"}  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-m", "service.cli", "tune", "--home", str(home), "--eval",
         str(small_eval), "--steps", "2", "--batch-size", "4", "--min-gain", "-1", "--json"],
        env=env, cwd=REPO, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == -9, done.stderr[-2000:]

    after = Runtime(minilm(home))
    assert after.store.manifest() == generation
    assert after.settings.model == MINILM_MODEL
    assert answers(after) == before
    refused = runner.invoke(app, ["tune", "--home", str(home), "--rollback"],
                            env={"SHIFU_MODEL": MINILM_MODEL})  # fmt: skip
    assert refused.exit_code == 2 and "nothing to roll back" in refused.output
    tuned = [p.name for p in tuned_root(home).iterdir()]
    assert len(tuned) == 1 and json.loads((tuned_root(home) / tuned[0] / "tune.json").read_text())
