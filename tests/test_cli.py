from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from service import cli, cli_common
from service.runtime import Runtime
from service.settings import Settings
from tests.conftest import SAMPLE_FILES
from tests.fakes import FakeEncoder


@pytest.fixture(autouse=True)
def fake_runtime(monkeypatch: pytest.MonkeyPatch) -> None:
    encoder = FakeEncoder()
    monkeypatch.setattr(cli_common, "make_runtime", lambda s: Runtime(s, lambda _: encoder))


runner = CliRunner()


def test_ingest_json_summary_then_unchanged(tmp_path: Path, corpus_copy: Path) -> None:
    home = str(tmp_path / "home")
    began = time.perf_counter()
    first = runner.invoke(cli.app, ["ingest", str(corpus_copy), "--home", home, "--json"])
    elapsed = time.perf_counter() - began
    assert first.exit_code == 0, first.output
    summary = json.loads(first.stdout)
    assert (summary["added"], summary["failed"]) == (SAMPLE_FILES, 0)
    # the ingest's own wall time: some, and no more than the command took
    assert summary["chunks"] > 0 and 0 < summary["seconds"] <= elapsed
    second = runner.invoke(cli.app, ["ingest", str(corpus_copy), "--home", home, "--json"])
    assert json.loads(second.stdout)["unchanged"] == SAMPLE_FILES


def test_ingest_exits_1_and_names_the_bad_file(tmp_path: Path, corpus_copy: Path) -> None:
    (corpus_copy / "empty.txt").write_bytes(b"")
    result = runner.invoke(cli.app, ["ingest", str(corpus_copy), "--home", str(tmp_path / "h")])
    assert result.exit_code == 1
    assert "empty.txt" in result.output and "empty file" in result.output
    assert f"added {SAMPLE_FILES}" in result.stdout and "failed 1" in result.stdout


def test_home_falls_back_to_the_environment(
    tmp_path: Path, corpus_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHIFU_HOME", str(tmp_path / "envhome"))
    assert runner.invoke(cli.app, ["ingest", str(corpus_copy)]).exit_code == 0
    assert (tmp_path / "envhome" / "index" / "CURRENT").is_file()
    assert Settings().home == tmp_path / "envhome"


def test_query_json_matches_the_api_shape(tmp_path: Path, corpus_copy: Path) -> None:
    home = str(tmp_path / "home")
    runner.invoke(cli.app, ["ingest", str(corpus_copy), "--home", home])
    result = runner.invoke(
        cli.app, ["query", "main disconnect padlock", "-k", "2", "--home", home, "--json"]
    )
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert len(body["passages"]) == 2
    assert body["passages"][0]["citation"]["source"] == "sop/SOP-MT-001_lockout-tagout.md"
    text = runner.invoke(cli.app, ["query", "main disconnect padlock", "--home", home])
    assert "1. [" in text.stdout and "SOP-MT-001 rev B §3 step" in text.stdout


def test_query_without_an_index_is_a_clear_error(tmp_path: Path) -> None:
    result = runner.invoke(cli.app, ["query", "anything", "--home", str(tmp_path / "nothing")])
    assert result.exit_code == 2
    assert "shifu ingest" in result.output


def test_query_filters_and_superseded_revisions(tmp_path: Path, corpus_copy: Path) -> None:
    home = str(tmp_path / "home")
    runner.invoke(cli.app, ["ingest", str(corpus_copy), "--home", home])
    args = ["query", "射出壓力 每次降低", "--home", home, "--json", "--filter", "doc_id=SOP-IM-012"]
    current = json.loads(runner.invoke(cli.app, args).stdout)["passages"]
    assert {p["citation"]["revision"] for p in current} == {"C"}
    both = json.loads(runner.invoke(cli.app, [*args, "--include-superseded"]).stdout)
    assert "B" in {p["citation"]["revision"] for p in both["passages"]}
    bad = runner.invoke(cli.app, ["query", "x", "--home", home, "--filter", "doc_type"])
    assert bad.exit_code == 2 and "KEY=VALUE" in bad.output


def test_ingest_says_which_fields_were_defaulted(tmp_path: Path) -> None:
    (tmp_path / "note.txt").write_text("扭力計每週校正一次。\n")
    result = runner.invoke(cli.app, ["ingest", str(tmp_path / "note.txt"), "--home",
                                     str(tmp_path / "h")])  # fmt: skip
    assert result.exit_code == 0
    assert "defaulted doc_id, doc_type, language, title for note.txt" in result.output


def test_keys_are_printed_once_and_stored_hashed(tmp_path: Path) -> None:
    home = str(tmp_path / "home")
    added = runner.invoke(cli.app, ["keys", "add", "line3", "--role", "editor", "--group",
                                    "molding", "--home", home])  # fmt: skip
    assert added.exit_code == 0, added.output
    key = added.stdout.strip()
    assert key.startswith("shifu_")
    stored = (tmp_path / "home" / "keys.yaml").read_text()
    assert key not in stored and "line3" in stored
    listed = runner.invoke(cli.app, ["keys", "list", "--home", home]).stdout
    assert listed.strip() == "line3\teditor\tmolding"
    again = runner.invoke(cli.app, ["keys", "add", "line3", "--home", home])
    assert again.exit_code == 2 and "already exists" in again.output
    assert runner.invoke(cli.app, ["keys", "remove", "line3", "--home", home]).exit_code == 0
    assert runner.invoke(cli.app, ["keys", "list", "--home", home]).stdout.strip() == ""


def test_no_auth_refuses_a_public_address(tmp_path: Path) -> None:
    result = runner.invoke(
        cli.app, ["serve", "--no-auth", "--host", "0.0.0.0", "--home", str(tmp_path)]
    )
    assert result.exit_code == 2 and "loopback" in result.output
