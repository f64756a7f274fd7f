"""Precision as a setting: detection from the CPU's flags, fp32 where the CPU has no native bf16,
and where it is recorded (the generation's manifest, /v1/health)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from ingest.pipeline import ingest
from retriever.models.precision import cpu_flags, resolve
from retriever.store.index_store import IndexStore
from service.app import create_app
from service.settings import Settings
from tests.fakes import FakeEncoder

SAPPHIRE_RAPIDS = "processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f avx512_bf16 amx_bf16 amx_tile\n"
OLDER_XEON = "processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f avx512_vnni\n"


@pytest.mark.parametrize(
    ("cpuinfo", "expected"), [(SAPPHIRE_RAPIDS, "bf16"), (OLDER_XEON, "fp32"), ("", "fp32")]
)
def test_auto_picks_bf16_only_where_the_cpu_has_it(
    tmp_path: Path, cpuinfo: str, expected: str
) -> None:
    path = tmp_path / "cpuinfo"
    path.write_text(cpuinfo)
    assert resolve("auto", cpu_flags(path)) == expected


def test_explicit_settings_and_unreadable_cpuinfo(tmp_path: Path) -> None:
    assert cpu_flags(tmp_path / "missing") == frozenset()  # not Linux: nothing detected
    assert resolve("fp32", frozenset({"amx_bf16"})) == "fp32"
    assert resolve("bf16", frozenset()) == "bf16"  # asked for: kept, torch emulates it
    with pytest.raises(ValueError, match="unknown precision 'fp16'"):
        resolve("fp16", frozenset())


def test_the_manifest_and_health_say_what_the_passages_were_embedded_in(
    tmp_path: Path, corpus_copy: Path
) -> None:
    class Bf16Encoder(FakeEncoder):
        precision = "bf16"

    store = IndexStore(tmp_path / "home")
    ingest([corpus_copy], store, Bf16Encoder())
    manifest = store.manifest()
    assert manifest is not None and manifest.precision == "bf16"
    app = create_app(Settings(home=tmp_path / "home", auth=False))
    assert TestClient(app).get("/v1/health").json()["precision"] == "bf16"
