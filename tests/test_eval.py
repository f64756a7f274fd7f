from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ingest.chunking.units import ChunkingConfig
from ingest.datasets.beir import DatasetError, load_beir
from ingest.datasets.evalset import write_eval_set
from retriever.ranking.metrics import mean, metric_names, per_query
from retriever.text import detect_language
from service import cli, cli_common
from service.evaluation import evaluate
from service.runtime import Runtime
from tests.fakes import FakeEncoder

NAMES = metric_names(10)


def write_dataset(
    folder: Path, corpus: dict[str, str], queries: dict[str, str], qrels: list[tuple[str, str, int]]
) -> Path:
    (folder / "qrels").mkdir(parents=True)
    with (folder / "corpus.jsonl").open("w") as f:
        for cid, text in corpus.items():
            f.write(json.dumps({"_id": cid, "title": "", "text": text}) + "\n")
    with (folder / "queries.jsonl").open("w") as f:
        for qid, text in queries.items():
            f.write(json.dumps({"_id": qid, "text": text, "metadata": {"type": qid[:2]}}) + "\n")
    rows = ["query-id\tcorpus-id\tscore"] + [f"{q}\t{d}\t{s}" for q, d, s in qrels]
    (folder / "qrels" / "test.tsv").write_text("\n".join(rows) + "\n")
    return folder


def test_metrics_equal_hand_computed_values() -> None:
    qrels = {"q1": {"d1": 1}, "q2": {"d2": 1, "d3": 1}, "q3": {"d5": 1}}
    rankings = {"q1": ["d1", "d4"], "q2": ["d4", "d2", "d5", "d3"], "q3": []}
    values = per_query(qrels, rankings, NAMES)
    ndcg_q2 = (1 / math.log2(3) + 1 / math.log2(5)) / (1 + 1 / math.log2(3))
    assert values["q1"] == dict.fromkeys(NAMES, 1.0)
    assert values["q2"]["nDCG@10"] == pytest.approx(ndcg_q2)
    assert values["q2"]["RR@10"] == pytest.approx(0.5)
    assert (values["q2"]["Success@1"], values["q2"]["Success@5"], values["q2"]["R@10"]) == (
        0.0,
        1.0,
        1.0,
    )
    assert values["q3"] == dict.fromkeys(NAMES, 0.0)
    assert mean(values, NAMES)["nDCG@10"] == pytest.approx((1 + ndcg_q2) / 3)
    assert mean(values, NAMES)["RR@10"] == pytest.approx(0.5)


def test_a_query_missing_from_the_run_counts_as_zero() -> None:
    values = per_query({"q1": {"d1": 1}, "q2": {"d2": 1}}, {"q1": ["d1"]}, NAMES)
    assert set(values) == {"q1", "q2"}
    assert mean(values, NAMES)["Success@1"] == 0.5


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    corpus = {f"d{i}": f"alpha{i} bravo{i} charlie{i} delta{i}" for i in range(5)}
    queries = {f"q{i}": f"alpha{i} bravo{i} charlie{i} delta{i}" for i in range(3)}
    return write_dataset(
        tmp_path / "tiny", corpus, queries, [(f"q{i}", f"d{i}", 1) for i in range(3)]
    )


def test_perfect_retrieval_scores_one(tiny: Path, tmp_path: Path) -> None:
    result = evaluate(
        tiny, ["dense", "bm25", "hybrid"], FakeEncoder(), tmp_path / "cache", ChunkingConfig()
    )
    assert result.queries == 3
    for run in result.runs:
        assert run.metrics == dict.fromkeys(NAMES, 1.0), run.mode


def test_retrieval_that_finds_nothing_scores_zero(tmp_path: Path) -> None:
    folder = write_dataset(
        tmp_path / "none",
        {"d1": "alpha", "d2": "bravo"},
        {"q1": "zulu", "q2": "yankee"},
        [("q1", "d1", 1), ("q2", "d2", 1)],
    )
    result = evaluate(folder, ["bm25"], FakeEncoder(), tmp_path / "cache", ChunkingConfig())
    assert result.queries == 2
    assert result.runs[0].metrics == dict.fromkeys(NAMES, 0.0)
    assert all(o.first_relevant is None for o in result.runs[0].outcomes)


def test_chunk_hits_map_back_to_their_corpus_id(tmp_path: Path) -> None:
    long_text = "\n".join(f"filler line {i} about nothing in particular" for i in range(60))
    long_text += "\nthe torque wrench calibration happens weekly\n" + long_text
    corpus = {"long": long_text, "short": "wrench storage shelf"}
    folder = write_dataset(
        tmp_path / "long", corpus, {"q1": "torque wrench calibration weekly"}, [("q1", "long", 1)]
    )
    result = evaluate(
        folder,
        ["dense"],
        FakeEncoder(),
        tmp_path / "cache",
        ChunkingConfig(max_tokens=16, overlap_tokens=4),
    )
    assert result.chunks > 5
    outcome = result.runs[0].outcomes[0]
    assert outcome.first_relevant == 1
    assert outcome.top_ids == ["long", "short"]


def test_second_run_reuses_the_cached_index(tiny: Path, tmp_path: Path) -> None:
    first, second = FakeEncoder(), FakeEncoder()
    evaluate(tiny, ["dense"], first, tmp_path / "cache", ChunkingConfig())
    evaluate(tiny, ["dense"], second, tmp_path / "cache", ChunkingConfig())
    assert first.embedded and not second.embedded
    evaluate(
        tiny, ["dense"], second, tmp_path / "cache", ChunkingConfig(max_tokens=64, overlap_tokens=8)
    )
    assert second.embedded, "another chunking is another index"


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda f: (f / "queries.jsonl").unlink(), "queries.jsonl: missing file"),
        (
            lambda f: (f / "qrels" / "test.tsv").write_text("q\tc\ts\nq0\tnope\t1\n"),
            "test.tsv:2: unknown corpus id 'nope'",
        ),
        (
            lambda f: (f / "queries.jsonl").write_text('{"_id": "q0", "text": " "}\n'),
            "queries.jsonl:1: query 'q0' is empty",
        ),
        (
            lambda f: (f / "corpus.jsonl").write_text('{"_id": "d0", "text": "x"}\n{oops\n'),
            "corpus.jsonl:2: invalid JSON",
        ),
    ],
)
def test_a_malformed_dataset_names_the_file_and_line(tiny: Path, damage, message: str) -> None:  # type: ignore[no-untyped-def]
    damage(tiny)
    with pytest.raises(DatasetError, match=message.replace("(", r"\(")):
        load_beir(tiny)


def test_language_detection() -> None:
    assert detect_language("射出成型毛邊怎麼調?") == "zh-Hant"
    assert detect_language("射出成型毛边怎么调?") == "zh-Hans"
    assert detect_language("lockout steps before clearing a jam?") == "en"
    assert detect_language("LOTO 的鎖可以請別人拆嗎?") == "mixed"


runner = CliRunner()


def test_cli_compares_modes_reports_and_gates(
    tiny: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    encoder = FakeEncoder()
    monkeypatch.setattr(cli_common, "make_runtime", lambda s: Runtime(s, lambda _: encoder))
    args = ["eval", str(tiny), "--mode", "dense", "--mode", "bm25", "--home", str(tmp_path / "h")]
    result = runner.invoke(cli.app, [*args, "--json", "--report", str(tmp_path / "rep")])
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert (body["dataset"], body["queries"]) == ("tiny", 3)
    assert [r["mode"] for r in body["runs"]] == ["dense", "bm25"]
    expected = {"mode", "metrics", "by_language", "by_type", "by_kind", "seconds"}
    assert set(body["runs"][0]) == expected
    assert body["runs"][0]["by_type"]["q0"]["queries"] == 1
    written = {p.name for p in (tmp_path / "rep").iterdir()}
    assert written == {"results.json", "results.md", "per_query.tsv", "metrics.png"}
    table = runner.invoke(cli.app, args)
    assert "| dense | 1.000 |" in table.stdout
    gated = runner.invoke(cli.app, [*args, "--fail-under", "nDCG@10=1.01"])
    assert gated.exit_code == 1
    assert "dense: nDCG@10 = 1.0000 < 1.01" in gated.output
    bad = runner.invoke(cli.app, [*args, "--fail-under", "MAP=0.3"])
    assert bad.exit_code == 2 and "unknown metric" in bad.output


def test_the_repository_eval_set_is_generated_from_the_sample_corpus(tmp_path: Path) -> None:
    """corpus/eval is written by corpus/tools/build_eval.py; editing a document or question
    without regenerating it fails here."""
    repo = Path(__file__).resolve().parent.parent
    write_eval_set(repo / "corpus", repo / "corpus" / "eval" / "questions", tmp_path)
    for name in ("corpus.jsonl", "queries.jsonl", "qrels/test.tsv"):
        committed = (repo / "corpus" / "eval" / name).read_text(encoding="utf-8")
        assert (tmp_path / name).read_text(encoding="utf-8") == committed, name
    dataset = load_beir(repo / "corpus" / "eval")
    types = {q.metadata["type"] for q in dataset.queries}
    assert types == {"zh", "en", "zh→en", "en→zh", "mixed"}
    kinds = {q.metadata["kind"] for q in dataset.queries}
    assert kinds == {"sop", "interview-only", "revision", "sop+interview"}
    assert len(dataset.queries) >= 80 and dataset.unjudged_queries == 0
