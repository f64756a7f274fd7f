"""Per-key rate limits: a key over its budget gets 429 with Retry-After, counted in metrics;
other keys and other classes of route are unaffected; limits hold without auth too."""

from __future__ import annotations

from pathlib import Path

import httpx
from fastapi.testclient import TestClient

from ingest.pipeline import ingest
from retriever.store.index_store import IndexStore
from service.app import create_app
from service.settings import Settings
from tests.conftest import bearer
from tests.fakes import FakeEncoder
from tests.serving import served

ASK = {"question": "lockout padlock tag", "mode": "bm25"}
TIGHT = {"rate_query": 0.5, "burst_query": 3, "rate_upload": 0.5, "burst_upload": 2}


def _app(tmp_path: Path, corpus: Path, **settings: object) -> TestClient:
    encoder = FakeEncoder()
    ingest([corpus], IndexStore(tmp_path / "home"), encoder)
    app = create_app(Settings(home=tmp_path / "home", **settings),  # type: ignore[arg-type]
                     encoder_factory=lambda _: encoder)  # fmt: skip
    return TestClient(app, raise_server_exceptions=False)


def test_a_key_over_its_budget_gets_429_and_other_keys_do_not(
    tmp_path: Path, corpus_copy: Path, api_keys: dict[str, str]
) -> None:
    client = _app(tmp_path, corpus_copy, **TIGHT)
    reader, other = bearer(api_keys["reader"]), bearer(api_keys["editor"])
    statuses = [client.post("/v1/query", json=ASK, headers=reader).status_code for _ in range(6)]
    assert statuses == [200, 200, 200, 429, 429, 429]
    refused = client.post("/v1/query", json=ASK, headers=reader)
    assert "rate limit for query requests" in refused.json()["detail"]
    assert 1 <= int(refused.headers["Retry-After"]) <= 6  # burst 3 at 0.5/s: a 6 s window
    assert client.post("/v1/query", json=ASK, headers=other).status_code == 200
    # the upload budget is its own: a reader's spent query budget does not touch it
    upload = client.post("/v1/documents", headers=other,
                         files=[("files", ("note.md", b"1. Check the guard.\n"))])  # fmt: skip
    assert upload.status_code == 200, upload.text
    metrics = client.get("/metrics").text
    assert 'shifu_rate_limited_total{route_class="query"} 4.0' in metrics


def test_guessing_keys_is_limited_by_address(
    tmp_path: Path, corpus_copy: Path, api_keys: dict[str, str]
) -> None:
    client = _app(tmp_path, corpus_copy, **TIGHT)
    wrong = bearer("shifu_guess")
    statuses = [client.post("/v1/query", json=ASK, headers=wrong).status_code for _ in range(4)]
    assert statuses == [401, 401, 401, 429]
    assert client.post("/v1/query", json=ASK, headers=bearer(api_keys["reader"])).status_code == 200


def test_limits_hold_without_auth_on_loopback(tmp_path: Path, corpus_copy: Path) -> None:
    client = _app(tmp_path, corpus_copy, auth=False, **TIGHT)
    statuses = [client.post("/v1/query", json=ASK).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    assert client.get("/v1/health").status_code == 200  # health is never limited


def test_an_agent_over_its_budget_gets_429_at_mcp(
    tmp_path: Path, corpus_copy: Path, api_keys: dict[str, str]
) -> None:
    client = _app(tmp_path, corpus_copy, **TIGHT)
    call = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
    headers = {**bearer(api_keys["reader"]), "Accept": "application/json, text/event-stream"}
    with served(client.app) as url:
        statuses = [httpx.post(f"{url}/mcp", json=call, headers=headers).status_code
                    for _ in range(4)]  # fmt: skip
    assert statuses[:3] == [200, 200, 200] and statuses[3] == 429
