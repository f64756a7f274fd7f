"""End to end with the real default model: the sample corpus answers real questions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from retriever.models.encoder import DEFAULT_MODEL, SentenceTransformerEncoder, load_encoder
from service.app import create_app
from service.settings import Settings
from tests.conftest import SAMPLE_FILES

pytestmark = pytest.mark.real_model

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def encoder(model_cache: Path) -> SentenceTransformerEncoder:
    return load_encoder(DEFAULT_MODEL, model_cache)


@pytest.fixture(scope="module")
def client(
    tmp_path_factory: pytest.TempPathFactory, model_cache: Path, encoder: SentenceTransformerEncoder
) -> TestClient:
    settings = Settings(home=tmp_path_factory.mktemp("home"), models_dir=model_cache, auth=False)
    app = create_app(settings, encoder_factory=lambda _: encoder)
    summary = app.state.runtime.ingest([REPO / "corpus"], prune=False, progress=None)
    assert (summary.added, summary.failed) == (SAMPLE_FILES, 0)
    return TestClient(app)


def top_sources(client: TestClient, question: str, k: int = 3) -> list[str]:
    response = client.post("/v1/query", json={"question": question, "k": k})
    assert response.status_code == 200, response.text
    return [p["citation"]["source"] for p in response.json()["passages"]]


def test_model_identity(encoder: SentenceTransformerEncoder) -> None:
    assert (encoder.name, encoder.dim) == (DEFAULT_MODEL, 384)
    assert 500 <= encoder.max_tokens < 512


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("射出成型毛邊怎麼調?", "flash"),  # the SOP and the master's interview both answer
        ("lockout steps before clearing a jam?", "SOP-MT-001"),
        ("電動起子扭力要多少?", "SOP-QC-021"),
        ("王師傅說新人遇到毛邊最常犯什麼錯?", "interview-wang"),
    ],
)
def test_questions_find_their_document_first(
    client: TestClient, question: str, expected: str
) -> None:
    assert expected in top_sources(client, question, k=1)[0]


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("What is the acceptance limit for flash height?", "SOP-IM-012"),
        ("清除卡料前的上鎖步驟是什麼?", "SOP-MT-001"),
    ],
)
def test_a_question_finds_the_sop_written_in_the_other_language(
    client: TestClient, question: str, expected: str
) -> None:
    # within the default five: with 13 documents, same-language passages on neighbouring
    # topics (the master's LOTO story, SOP-IM-012's LOTO warning) rank close to the answer
    assert any(expected in s for s in top_sources(client, question, k=5))


def test_the_forklift_question_finds_the_english_tip_over_caution(client: TestClient) -> None:
    """The embedder alone ranks interviews on reflow and welding first (its scores flat): the
    glossary's 堆高機 → forklift, 翻車 → tip over bring the English SOP's caution up."""
    body = client.post("/v1/query", json={"question": "堆高機翻車時該怎麼做？", "k": 3}).json()
    labels = [p["citation"]["label"] for p in body["passages"]]
    assert any("SOP-FL-003" in p["citation"]["source"] and "tip over" in p["text"]
               for p in body["passages"]), labels  # fmt: skip
    used = {e["term"]: e for e in body["expansions"]}
    assert "forklift" in used["堆高機"]["translations"] and used["堆高機"]["source"] == "glossary"


def test_the_default_factory_builds_and_loads_the_model(tmp_path: Path, model_cache: Path) -> None:
    app = create_app(Settings(home=tmp_path, models_dir=model_cache))
    encoder = app.state.runtime.encoder
    assert encoder.name == DEFAULT_MODEL
    vectors = encoder.encode_queries(["鎖模力"])
    assert vectors.shape == (1, 384)
    assert abs(float((vectors[0] ** 2).sum()) - 1.0) < 1e-4


def test_passage_vectors_keep_input_order(encoder: SentenceTransformerEncoder) -> None:
    small_batches = SentenceTransformerEncoder(encoder.model, encoder.name, batch_size=2)
    long_text = "鎖模力不得超過額定值的 90%。" * 6
    texts = [long_text, "stop", "Verify the machine does not move.", "停機"]
    together = small_batches.encode_passages(texts)
    one_by_one = np.vstack([encoder.encode_passages([t]) for t in texts])
    assert np.allclose(together, one_by_one, atol=1e-4)


def test_bf16_vectors_agree_with_fp32(
    model_cache: Path, encoder: SentenceTransformerEncoder
) -> None:
    bf16 = load_encoder(DEFAULT_MODEL, model_cache, precision="bf16")
    assert bf16.precision == "bf16" and encoder.precision == "fp32"
    texts = ["射出成型毛邊怎麼調？降低射出壓力每次 5 bar。", "Lock out the main disconnect first.",
             "堆高機翻車時留在護頂架內 Stay inside the overhead guard."]  # fmt: skip
    cosines = np.sum(bf16.encode_passages(texts) * encoder.encode_passages(texts), axis=1)
    assert cosines.min() >= 0.998, cosines
    query = np.sum(bf16.encode_queries(texts[:1]) * encoder.encode_queries(texts[:1]), axis=1)
    assert query.min() >= 0.998


def test_bf16_weights_cast_once_give_autocast_vectors_and_a_trainable_copy_stays_fp32(
    model_cache: Path,
) -> None:
    import torch

    served = load_encoder(DEFAULT_MODEL, model_cache, precision="bf16")
    trainable = load_encoder(DEFAULT_MODEL, model_cache, precision="bf16", trainable=True)
    linear = [m for m in served.model.modules() if isinstance(m, torch.nn.Linear)]
    assert linear and all(m.weight.dtype == torch.bfloat16 for m in linear)
    assert all(p.dtype == torch.float32 for p in trainable.model.parameters())
    texts = ["射出成型毛邊怎麼調？", "Lock out the main disconnect first.", "停機"]
    for one in ([texts[0]], texts):  # a lone question and a batch
        np.testing.assert_allclose(served.encode_queries(one), trainable.encode_queries(one),
                                   atol=1e-6)  # fmt: skip


QUERY_SCRIPT = """
import json, sys
from service import cli
try:
    cli.app(["query", sys.argv[1], "--home", sys.argv[2], "-k", "3", "--json"], prog_name="shifu")
except SystemExit as exit:
    code = exit.code
heavy = sorted({"torch", "sentence_transformers", "transformers"} & set(sys.modules))
print(json.dumps({"exit": code, "heavy": heavy}))
"""


@pytest.mark.parametrize("question", ["lockout steps before clearing a jam?", "毛邊怎麼調?"])
def test_a_cold_cli_query_needs_no_torch_and_finds_what_the_model_finds(
    client: TestClient, model_cache: Path, question: str
) -> None:
    import json
    import os
    import subprocess
    import sys

    home = client.app.state.runtime.settings.home  # type: ignore[attr-defined]
    env = {**os.environ, "SHIFU_MODELS_DIR": str(model_cache)}
    done = subprocess.run([sys.executable, "-c", QUERY_SCRIPT, question, str(home)], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=120)  # fmt: skip
    lines = done.stdout.strip().splitlines()
    assert lines, done.stderr
    answer, outcome = json.loads("\n".join(lines[:-1])), json.loads(lines[-1])
    assert outcome == {"exit": 0, "heavy": []}, done.stderr
    served = client.post("/v1/query", json={"question": question, "k": 3}).json()
    ids = [p["chunk_id"] for p in answer["passages"]]
    assert ids == [p["chunk_id"] for p in served["passages"]]


def test_the_quick_engine_agrees_with_the_model(encoder: SentenceTransformerEncoder) -> None:
    from retriever.models.quick import QuickEngine

    texts = ["堆高機翻車時該怎麼做？", "Close the main disconnect and attach your padlock.",
             "二段射出壓力每次降低 5 bar，毛邊高度 ≤ 0.1 mm"]  # fmt: skip
    quick = QuickEngine(DEFAULT_MODEL)
    for fast, slow in [(quick.encode_queries(texts), encoder.encode_queries(texts)),
                       (quick.encode_passages(texts), encoder.encode_passages(texts))]:  # fmt: skip
        cosine = (fast * slow).sum(1) / np.linalg.norm(fast, axis=1) / np.linalg.norm(slow, axis=1)
        assert cosine.min() >= 0.999, cosine
