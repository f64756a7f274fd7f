"""The service a plant can trust: keys and roles, per-document access, documents over HTTP,
background jobs, limits and observability."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ingest.pipeline import ingest
from retriever.store.index_store import IndexStore
from service.app import create_app
from service.settings import Settings
from tests.conftest import bearer
from tests.fakes import FakeEncoder

RESTRICTED = (
    "---\ndoc_id: SOP-SEC-001\naccess: [molding]\n---\n1. 配方參數 secret-recipe 只給成型課。\n"
)


def app_client(home: Path, **settings: int) -> TestClient:
    encoder = FakeEncoder()
    configured = Settings(home=home).model_copy(update=settings)
    app = create_app(configured, encoder_factory=lambda _: encoder)
    return TestClient(app, raise_server_exceptions=False)


def upload(client: TestClient, key: str, *files: tuple[str, bytes], **form: str) -> Any:
    parts = [("files", (name, data)) for name, data in files]
    return client.post("/v1/documents", files=parts, data=form, headers=bearer(key))


@pytest.mark.parametrize(
    ("headers", "status", "message"),
    [
        ({}, 401, "API key is required"),
        ({"Authorization": "Bearer shifu_wrong"}, 401, "unknown API key"),
        ({"Authorization": "Basic dXNlcjpwYXNz"}, 401, "API key is required"),
        ({"X-API-Key": "x" * 5000}, 401, "unknown API key"),
    ],
)
def test_v1_routes_need_a_valid_key(
    client: TestClient, headers: dict[str, str], status: int, message: str
) -> None:
    client.headers.clear()
    for method, path in (("post", "/v1/query"), ("get", "/v1/documents"), ("get", "/v1/ready")):
        response = client.request(method, path, json={"question": "x"}, headers=headers)
        assert response.status_code == status and message in response.json()["detail"]
    assert client.get("/v1/health").status_code == 200  # liveness needs no key


def test_x_api_key_header_and_roles(client: TestClient, api_keys: dict[str, str]) -> None:
    ok = client.post(
        "/v1/query", json={"question": "毛邊"}, headers={"X-API-Key": api_keys["reader"]}
    )
    assert ok.status_code == 200
    denied = upload(client, api_keys["reader"], ("a.md", b"# A\n1. x\n"))
    assert denied.status_code == 403 and "editor role" in denied.json()["detail"]


def test_a_key_added_while_serving_works_at_once(client: TestClient, tmp_path: Path) -> None:
    from service.auth import add_key

    key = add_key(tmp_path / "home" / "keys.yaml", "late", "reader", [])
    assert (
        client.post("/v1/query", json={"question": "毛邊"}, headers=bearer(key)).status_code == 200
    )


def test_documents_outside_a_readers_groups_are_invisible(
    client: TestClient, api_keys: dict[str, str]
) -> None:
    assert upload(client, api_keys["editor"], ("sec.md", RESTRICTED.encode())).status_code == 200
    question = {"question": "secret-recipe 配方參數", "k": 50}
    seen = {
        who: {p["citation"]["doc_id"] for p in client.post(
            "/v1/query", json=question, headers=bearer(api_keys[who])).json()["passages"]}
        for who in ("reader", "molding", "admin")
    }  # fmt: skip
    assert "SOP-SEC-001" not in seen["reader"]
    assert "SOP-SEC-001" in seen["molding"] and "SOP-SEC-001" in seen["admin"]
    listing = {who: client.get("/v1/documents", params={"per_page": 100},
                               headers=bearer(api_keys[who])).json()["total"]
               for who in ("reader", "admin")}  # fmt: skip
    assert listing["admin"] == listing["reader"] + 1  # not even counted for the reader
    hidden = client.get("/v1/documents/SOP-SEC-001", headers=bearer(api_keys["reader"]))
    assert hidden.status_code == 404
    assert client.get("/v1/documents/SOP-SEC-001/file").status_code == 404


def test_upload_list_show_fetch_and_delete(client: TestClient, api_keys: dict[str, str]) -> None:
    editor = api_keys["editor"]
    text = "1. 扭力扳手 zirconia-torque 每週校正。\n".encode()
    metadata = '{"doc_id": "SOP-TQ-009", "revision": "A", "line": "L9"}'
    files = [("dir/../torque.md", text), ("bad.txt", b"\x00\x01\x02")]
    response = upload(client, editor, *files, metadata=metadata)
    body = response.json()
    statuses = {f["file"]: f["status"] for f in body["files"]}
    assert statuses == {"torque.md": "added", "bad.txt": "failed"}
    listed = client.get("/v1/documents", params={"line": "L9"}).json()
    assert [d["doc_id"] for d in listed["documents"]] == ["SOP-TQ-009"]
    shown = client.get("/v1/documents/SOP-TQ-009").json()
    assert shown["revisions"][0]["revision"] == "A" and shown["chunks"] >= 1
    assert client.get("/v1/documents/SOP-TQ-009/file").content == text
    query = {"question": "zirconia-torque", "k": 1}
    assert (
        client.post("/v1/query", json=query).json()["passages"][0]["citation"]["doc_id"]
        == "SOP-TQ-009"
    )
    assert client.delete("/v1/documents/SOP-TQ-009").status_code == 403  # a reader
    assert client.delete("/v1/documents/SOP-TQ-009", headers=bearer(editor)).status_code == 200
    assert 'shifu_ingested_files_total{status="added"} 1.0' in client.get("/metrics").text
    after = client.post("/v1/query", json=query).json()["passages"]
    assert all(p["citation"]["doc_id"] != "SOP-TQ-009" for p in after)
    assert client.get("/v1/documents/SOP-TQ-009").status_code == 404


def test_large_uploads_become_a_job(tmp_path: Path, api_keys: dict[str, str]) -> None:
    client = app_client(tmp_path / "home", background_upload_bytes=0)
    response = upload(client, api_keys["editor"], ("big.md", "1. 大檔案 large-upload。\n".encode()))
    assert response.status_code == 202
    job_id = response.json()["job"]["job_id"]
    for _ in range(100):
        job = client.get(f"/v1/jobs/{job_id}", headers=bearer(api_keys["editor"])).json()
        if job["status"] in ("done", "failed"):
            break
        time.sleep(0.05)
    assert job["status"] == "done" and job["result"]["files"][0]["status"] == "added"


def test_body_limits(tmp_path: Path, api_keys: dict[str, str]) -> None:
    client = app_client(tmp_path / "home", max_body_bytes=2048, max_upload_bytes=4096)
    big_json = client.post(
        "/v1/query", json={"question": "x" * 5000}, headers=bearer(api_keys["reader"])
    )
    assert big_json.status_code == 413 and "limit" in big_json.json()["detail"]
    big_file = upload(client, api_keys["editor"], ("big.txt", b"a" * 10_000))
    assert big_file.status_code == 413
    assert not list((tmp_path / "home").rglob("big.txt"))


def test_ready_metrics_and_logs(
    client: TestClient, api_keys: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    assert client.get("/v1/ready").json() == {"ready": False, "index": True, "model": False,
                                              "detail": "not loaded: model"}  # fmt: skip
    with caplog.at_level(logging.INFO, logger="shifu.http"):
        client.post("/v1/query", json={"question": "秘密問題 secret question"},
                    headers={**bearer(api_keys["reader"]), "X-Request-ID": "req-42"})  # fmt: skip
    assert client.get("/v1/ready").json()["ready"] is True
    record = next(
        r for r in caplog.records if getattr(r, "fields", {}).get("request_id") == "req-42"
    )
    fields = getattr(record, "fields", {})
    assert fields["route"] == "/v1/query" and fields["key_id"] == "reader"
    logged = caplog.text + str(fields)
    assert "secret question" not in logged and api_keys["reader"] not in logged
    metrics = client.get("/metrics").text
    assert 'shifu_queries_total{mode="hybrid"} 1.0' in metrics
    assert "shifu_query_seconds_bucket" in metrics


def test_an_ingest_elsewhere_is_picked_up_and_writers_are_serialised(
    client: TestClient, tmp_path: Path, corpus_copy: Path, api_keys: dict[str, str]
) -> None:
    store = IndexStore(tmp_path / "home")
    with store.writer("fake-hash-1024", 1024):
        response = upload(client, api_keys["editor"], ("x.md", "1. 鎖定中 busy。\n".encode()))
        assert response.status_code == 409
        assert "another ingest is writing to HOME/index" in response.json()["detail"]
    (corpus_copy / "late.md").write_text("1. 稍後加入 arrived-later。\n")
    ingest([corpus_copy], store, FakeEncoder())
    hit = client.post("/v1/query", json={"question": "arrived-later", "k": 1}).json()
    assert hit["passages"][0]["citation"]["source"] == "late.md"


def test_a_replaced_generation_is_closed_once_its_readers_are_done(
    client: TestClient, tmp_path: Path, corpus_copy: Path
) -> None:
    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    with runtime.reading() as first:
        (corpus_copy / "new.md").write_text("1. 新步驟 new-step。\n")
        ingest([corpus_copy], IndexStore(tmp_path / "home"), FakeEncoder())
        with runtime.reading() as second:
            assert second is not first
        assert first.documents()  # still open while its reader is on it
    with pytest.raises(Exception, match="closed"):
        first.documents()


def test_two_files_with_one_name_in_an_upload(client: TestClient, api_keys: dict[str, str]) -> None:
    files = [("a/dup.md", "1. 第一份 first-copy。\n".encode()), ("b/dup.md", b"1. second-copy\n")]
    body = upload(client, api_keys["editor"], *files).json()
    assert [f["status"] for f in body["files"]] == ["failed", "added"]
    assert "also named 'dup.md'" in body["files"][0]["reason"]


def test_feedback_on_a_passage_outside_ones_groups_is_refused(
    client: TestClient, api_keys: dict[str, str]
) -> None:
    assert upload(client, api_keys["editor"], ("sec.md", RESTRICTED.encode())).status_code == 200
    question = {"question": "secret-recipe 配方參數", "k": 1}
    hit = client.post("/v1/query", json=question, headers=bearer(api_keys["molding"])).json()
    chunk_id = hit["passages"][0]["chunk_id"]
    body = {"question": "secret-recipe", "chunk_id": chunk_id, "verdict": "helped"}
    assert client.post("/v1/feedback", json=body).status_code == 404  # a reader outside
    allowed = client.post("/v1/feedback", json=body, headers=bearer(api_keys["molding"]))
    assert allowed.status_code == 201
