from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from ingest.pipeline import ingest
from retriever.store.index_store import IndexStore
from service.app import create_app
from service.settings import Settings
from tests.fakes import FakeEncoder


def test_query_returns_cited_passages(client: TestClient) -> None:
    response = client.post("/v1/query", json={"question": "鎖模力 毛邊 分模面", "k": 3})
    assert response.status_code == 200
    body = response.json()
    assert body["question"] == "鎖模力 毛邊 分模面"
    assert 1 <= len(body["passages"]) <= 3
    citation = body["passages"][0]["citation"]
    for key in ("doc_id", "title", "source", "page", "section", "char_start", "char_end", "label"):
        assert key in citation
    assert citation["source"].endswith((".md", ".txt"))
    assert citation["char_end"] > citation["char_start"]
    assert body["passages"][0]["score"] >= body["passages"][-1]["score"]


def test_citations_carry_structure_and_filters_narrow(client: TestClient) -> None:
    body = {"question": "鬆刀 取下舊刀 刀把", "k": 3, "filters": {"doc_type": "sop", "line": "L1"}}
    response = client.post("/v1/query", json=body)
    assert response.status_code == 200, response.text
    passages = response.json()["passages"]
    assert passages and {p["citation"]["doc_id"] for p in passages} <= {"SOP-CNC-004", "SOP-BL-002"}
    citation = passages[0]["citation"]
    assert citation["doc_type"] == "sop" and citation["authority"] == "official"
    assert citation["revision"] == "A" and citation["superseded"] is False
    assert citation["label"].startswith(citation["doc_id"] + " rev A §")
    interview = client.post(
        "/v1/query", json={"question": "鎢棒 研磨", "filters": {"doc_type": ["interview"]}}
    ).json()["passages"][0]
    assert interview["citation"]["speaker"] == "陳師傅" and interview["citation"]["start"]


def test_superseded_revisions_only_on_request(client: TestClient) -> None:
    question = {
        "question": "二段射出壓力 每次降低 bar",
        "k": 10,
        "filters": {"doc_id": "SOP-IM-012"},
    }
    current = client.post("/v1/query", json=question).json()["passages"]
    assert {p["citation"]["revision"] for p in current} == {"C"}
    both = client.post("/v1/query", json={**question, "include_superseded": True}).json()
    old = [p for p in both["passages"] if p["citation"]["revision"] == "B"]
    assert old and all(p["citation"]["superseded"] for p in old)


@pytest.mark.parametrize(
    ("filters", "message"),
    [
        ({"owner": "x"}, "cannot filter on"),
        ({"line": []}, "at least 1 item"),
        ({"line": {"$ne": 1}}, "valid string"),
        ({"line": "x" * 201}, "at most 200"),
    ],
)
def test_bad_filters_get_422(client: TestClient, filters: dict[str, object], message: str) -> None:
    response = client.post("/v1/query", json={"question": "ok", "filters": filters})
    assert response.status_code == 422 and message in response.text


def test_default_k_is_five(client: TestClient) -> None:
    response = client.post("/v1/query", json={"question": "lockout padlock tag"})
    assert response.status_code == 200
    assert len(response.json()["passages"]) == 5


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"question": "   "}, "empty"),
        ({"question": "x" * 2001}, "limit is 2000"),
        ({"question": "ok", "k": 0}, "greater than or equal to 1"),
        ({"question": "ok", "k": 51}, "less than or equal to 50"),
        ({}, "Field required"),
    ],
)
def test_bad_questions_get_422_with_a_message(
    client: TestClient, body: dict[str, object], message: str
) -> None:
    response = client.post("/v1/query", json=body)
    assert response.status_code == 422
    assert message in response.text


def test_health_reports_the_index(client: TestClient) -> None:
    body = client.get("/v1/health").json()
    assert body["status"] == "ok" and body["model"] == "fake-hash-1024" and body["chunks"] > 0


def test_empty_home_answers_503_with_a_hint(tmp_path: Path) -> None:
    app = create_app(
        Settings(home=tmp_path / "none", auth=False), encoder_factory=lambda _: FakeEncoder()
    )
    client = TestClient(app, raise_server_exceptions=False)
    response = client.post("/v1/query", json={"question": "lockout"})
    assert response.status_code == 503
    assert "shifu ingest" in response.json()["detail"]
    assert client.get("/v1/health").json()["status"] == "empty"


def test_unexpected_errors_become_a_500_without_a_trace(tmp_path: Path) -> None:
    def broken(_: Settings) -> FakeEncoder:
        raise ZeroDivisionError("secret internals")

    ingest([Path(__file__).parent.parent / "corpus"], IndexStore(tmp_path / "h"), FakeEncoder())
    client = TestClient(
        create_app(Settings(home=tmp_path / "h", auth=False), broken), raise_server_exceptions=False
    )
    response = client.post("/v1/query", json={"question": "lockout"})
    assert response.status_code == 500
    assert "secret" not in response.text and "Traceback" not in response.text


def test_a_new_generation_is_picked_up_without_restart(
    client: TestClient, tmp_path: Path, corpus_copy: Path
) -> None:
    assert client.post("/v1/query", json={"question": "zirconium widget"}).status_code == 200
    (corpus_copy / "new.md").write_text("# Widget\nzirconium widget polishing steps\n")
    ingest([corpus_copy], IndexStore(tmp_path / "home"), FakeEncoder())
    top = client.post("/v1/query", json={"question": "zirconium widget"}).json()["passages"][0]
    assert top["citation"]["source"] == "new.md"


def test_openapi_and_page_are_served(client: TestClient) -> None:
    assert "/v1/query" in client.get("/openapi.json").json()["paths"]
    assert client.get("/docs").status_code == 200
    page = client.get("/")
    assert page.status_code == 200 and "/v1/query" in page.text
