"""The OpenAPI document is the API's contract: an OpenAPI-driven fuzzer (schemathesis, every
check on, in all its phases) runs against the served app and fails on any finding."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from fastapi.testclient import TestClient

from ingest.pipeline import ingest
from retriever.store.index_store import IndexStore
from service.app import create_app
from service.auth import add_key
from service.settings import Settings
from tests.conftest import REPO
from tests.fakes import FakeEncoder
from tests.serving import served

EXAMPLES = 20  # per operation and phase: about a thousand requests in about a minute
BUDGET_S = 600


def test_the_served_api_keeps_its_openapi_contract(tmp_path: Path, corpus_copy: Path) -> None:
    home = tmp_path / "home"
    key = add_key(home / "keys.yaml", "fuzz", "admin", [])
    encoder = FakeEncoder()
    ingest([corpus_copy], IndexStore(home), encoder)
    # limits off: the fuzzer's pace is not what this test is about (429 is documented)
    unlimited = Settings(home=home, rate_query=0, rate_upload=0, rate_admin=0)
    app = create_app(unlimited, encoder_factory=lambda _: encoder)
    command = [str(Path(sys.executable).with_name("st")), "--config-file",
               str(REPO / "tests" / "schemathesis.toml"), "run", "--no-color", "--seed", "1",
               "--max-examples", str(EXAMPLES), "--workers", "1", "--generation-database", "none",
               "--header", f"Authorization: Bearer {key}"]  # fmt: skip
    with served(app) as url:
        run = subprocess.run([*command, f"{url}/openapi.json"], capture_output=True, text=True,
                             cwd=REPO, timeout=BUDGET_S, check=False)  # fmt: skip
    summary = run.stdout[run.stdout.rfind("SUMMARY") :]
    print(summary)  # the generated request count, for the record
    assert run.returncode == 0, run.stdout[-20_000:] + run.stderr[-5_000:]
    operations = sum(len(methods) for methods in app.openapi()["paths"].values())
    assert f"Tested: {operations}" in summary and " generated, " in summary  # every route


def test_a_405_names_every_method_of_its_path(client: TestClient) -> None:
    response = client.request("OPTIONS", "/v1/feedback")
    assert response.status_code == 405
    assert set(response.headers["allow"].split(", ")) == {"GET", "POST"}
    assert client.put("/v1/query").headers["allow"] == "POST"


def test_the_document_states_the_servers_limits(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    query = document["components"]["schemas"]["QueryRequest"]["properties"]
    assert query["question"]["maxLength"] == 2000
    assert "hybrid+rerank" not in query["mode"]["enum"]  # no reranker configured
    assert query["filters"]["propertyNames"]["enum"][0] == "doc_id"
    job = document["paths"]["/v1/jobs/{job_id}"]["get"]["responses"]
    assert {"404", "429"} <= set(job)
