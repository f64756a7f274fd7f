"""Feedback from the page becomes evaluation data; links open originals without a key."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from typer.testing import CliRunner

from ingest.datasets.beir import load_beir
from service import cli
from service.links import sign, verify
from tests.conftest import bearer


def ask(client: TestClient, question: str) -> list[dict[str, Any]]:
    passages: list[dict[str, Any]] = client.post(
        "/v1/query", json={"question": question, "k": 3}
    ).json()["passages"]
    return passages


def judge(client: TestClient, question: str, chunk_id: int, verdict: str) -> int:
    body = {"question": question, "chunk_id": chunk_id, "verdict": verdict}
    response = client.post("/v1/feedback", json=body)
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def test_feedback_is_stored_listed_for_admins_and_exported(
    client: TestClient, api_keys: dict[str, str], tmp_path: Path
) -> None:
    question = "毛邊 二段射出壓力 每次降低"
    first, second = (p["chunk_id"] for p in ask(client, question)[:2])
    judge(client, question, first, "helped")
    judge(client, question, second, "helped")
    judge(client, "  毛邊   二段射出壓力 每次降低 ", second, "not_helped")  # the latest wins
    judge(client, "lockout padlock", ask(client, "lockout padlock")[0]["chunk_id"], "not_helped")
    assert client.get("/v1/feedback").status_code == 403  # a reader may not read it
    listed = client.get("/v1/feedback", headers=bearer(api_keys["admin"])).json()["feedback"]
    assert [(f["verdict"], f["key_id"]) for f in listed][:2] == [("helped", "reader")] * 2
    out = tmp_path / "fb"
    result = CliRunner().invoke(cli.app, ["feedback", "export", str(out),
                                          "--home", str(tmp_path / "home")])  # fmt: skip
    assert result.exit_code == 0, result.output
    dataset = load_beir(out)
    assert [q.text for q in dataset.queries] == [question]
    assert dataset.qrels[dataset.queries[0].query_id] == {str(first): 1}
    corpus_ids = {e.corpus_id for e in dataset.corpus}
    assert str(first) in corpus_ids and len(corpus_ids) > 50  # the rest of the index too


def test_feedback_on_an_unknown_passage_is_refused(client: TestClient) -> None:
    body = {"question": "x", "chunk_id": 99_999, "verdict": "helped"}
    assert client.post("/v1/feedback", json=body).status_code == 404
    bad = {"question": "x", "chunk_id": 1, "verdict": "great"}
    assert client.post("/v1/feedback", json=bad).status_code == 422


def test_a_link_opens_the_original_without_a_key(client: TestClient) -> None:
    url = client.post("/v1/documents/SOP-BL-002/link", json={}).json()["url"]
    client.headers.clear()
    opened = client.get(url)
    assert opened.status_code == 200 and opened.content.startswith(b"%PDF")
    assert opened.headers["content-type"] == "application/pdf"
    assert opened.headers["content-disposition"].startswith("inline")
    assert client.get(url[:-3] + "abc").status_code == 403  # a forged signature
    assert client.post("/v1/documents/SOP-BL-002/link", json={}).status_code == 401


def test_links_expire(tmp_path: Path) -> None:
    token, expires = sign(tmp_path, "sop/a.md", now=1000.0)
    assert verify(tmp_path, token, now=1001.0) == "sop/a.md"
    try:
        verify(tmp_path, token, now=expires + 1)
    except ValueError as exc:
        assert "expired" in str(exc)
    else:
        raise AssertionError("an expired link was accepted")


def test_facets_list_the_filter_values(client: TestClient) -> None:
    facets = client.get("/v1/facets").json()
    assert {"sop", "interview"} <= set(facets["doc_type"])
    assert {"L1", "L2", "L3"} <= set(facets["line"])
    assert json.dumps(facets, ensure_ascii=False).count("成型機") == 1


def test_a_big5_original_is_served_as_utf8(client: TestClient, api_keys: dict[str, str]) -> None:
    text = "---\ndoc_id: SOP-OLD-001\n---\n1. 舊文件：鎖模力不得超過額定值。\n"
    files = [("files", ("old.txt", text.encode("cp950")))]
    assert client.post("/v1/documents", files=files, headers=bearer(api_keys["editor"])).is_success
    url = client.post("/v1/documents/SOP-OLD-001/link", json={}).json()["url"]
    opened = client.get(url)
    assert opened.headers["content-type"] == "text/plain; charset=utf-8"
    assert "鎖模力不得超過額定值" in opened.text
    assert opened.headers["x-content-type-options"] == "nosniff"
