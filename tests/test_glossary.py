"""The plant glossary: glossary files ingested like documents, term pairs mined from the text,
the glossary versioned with the generation and translating questions, over the CLI and HTTP."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from ingest.loaders.files import SourceFile, discover, load_document
from ingest.loaders.glossary_file import GlossaryError, glossary_document, is_glossary
from ingest.mining import mine
from ingest.pipeline import ingest
from retriever.ranking.search import search
from retriever.store.index_store import IndexStore
from service import cli, cli_common
from service.app import create_app
from service.runtime import Runtime
from service.settings import Settings
from tests.conftest import bearer, live
from tests.fakes import FakeEncoder

# three passages in each language, so the index holds both and hybrid translates
ENGLISH = {
    "fl.md": "# Forklift rules\n\nIf the truck starts to tip over, stay inside the overhead guard.",
    "bl.md": "# Boiler start\n\nOpen the vent valve and check the water level gauge first.",
    "mt.md": "# Lockout\n\nSwitch the main disconnect off and attach your padlock.",
}
CHINESE = {
    "wd.md": "# 焊接\n\n焊道要清乾淨，氬氣流量要先確認。",
    "im.md": "# 射出\n\n毛邊多半是鎖模力不足，先看分模面有沒有髒。",
    "smt.md": "# 回焊\n\n錫膏要回溫四小時，刮刀角度要對。",
}
GLOSSARY = "zh,en,synonyms,scope\n護頂架,overhead guard,護頂,堆高機\n"
QUESTION = "護頂架是做什麼的？"


def _write(folder: Path, files: dict[str, str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")


def _top(store: IndexStore, encoder: FakeEncoder, question: str = QUESTION) -> tuple[str, list]:
    snapshot = live(store)
    result = search(snapshot, encoder, question, 3)
    top = snapshot.chunk_rows([result.passages[0].chunk_id])[result.passages[0].chunk_id]
    return top.document.source, result.expansions


@pytest.mark.parametrize(
    ("name", "is_one"),
    [("glossary.csv", True), ("plant-glossary.yaml", True), ("術語表.csv", True),
     ("L6_Glossary.yml", True), ("parts.csv", False), ("glossary.md", False),
     ("SOP.meta.yaml", False)],
)  # fmt: skip
def test_a_glossary_file_is_known_by_its_name(name: str, is_one: bool) -> None:
    assert is_glossary(Path(name)) is is_one


def test_a_csv_glossary_with_chinese_headers_reads_its_rows_and_reports_bad_ones() -> None:
    text = ("中文,英文,同義詞,範圍\n堆高機,forklift,叉車; lift truck,倉庫\n"
            ",lonely,,\n毛邊,flash,,\n")
    extracted = glossary_document(Path("術語表.csv"), text.encode("utf-8"))
    assert [(t.zh, t.en, t.synonyms, t.scope) for t in extracted.terms] == [
        ("堆高機", "forklift", ("叉車", "lift truck"), "倉庫"),
        ("毛邊", "flash", (), None),
    ]
    assert extracted.warnings == ("glossary row 3 skipped: it needs both a Chinese and an "
                                  "English term",)  # fmt: skip
    assert extracted.kind == "glossary"


def test_a_yaml_glossary_and_a_big5_csv_read_alike() -> None:
    yaml_text = "terms:\n  - zh: 扭力\n    en: torque\n    synonyms: [扭矩]\n"
    from_yaml = glossary_document(Path("glossary.yaml"), yaml_text.encode("utf-8")).terms
    from_big5 = glossary_document(Path("glossary.csv"), "扭力,torque,扭矩\n".encode("big5")).terms
    assert from_yaml == from_big5 and from_yaml[0].synonyms == ("扭矩",)


@pytest.mark.parametrize("text", ["zh,en\n", "zh,en\nforklift,堆高機\n", "- just a string\n"])
def test_a_glossary_without_a_usable_row_is_refused(text: str) -> None:
    suffix = ".yaml" if text.startswith("-") else ".csv"
    with pytest.raises(GlossaryError):
        glossary_document(Path(f"glossary{suffix}"), text.encode("utf-8"))


@pytest.mark.parametrize(
    ("text", "pairs"),
    [
        ("射出成型毛邊(Flash)排除作業", [("毛邊", "Flash", ())]),
        ("成型品出現毛邊(flash / 披鋒)時", [("毛邊", "flash", ("披鋒",))]),
        ("將刀把放在對刀儀 (tool presetter) 上量測", [("對刀儀", "tool presetter", ())]),
        ("再以單節 (single block) 執行", [("單節", "single block", ())]),
        ("停止並掛上上鎖掛牌(LOTO)", [("上鎖掛牌", "LOTO", ())]),
        ("避免過度充填(overpacking)", [("過度充填", "overpacking", ())]),
        ("Stay inside the overhead guard (護頂架) here", [("護頂架", "overhead guard", ())]),
        ("螺絲 (SUS304) 與氬氣(Ar 99.99%)", []),  # codes and figures are not terms
        ("把扭力計歸零 (zero the tester)", []),  # a gloss with function words is not a term
    ],
)
def test_term_pairs_are_mined_from_brackets(text: str, pairs: list[tuple]) -> None:
    found = mine(text, "SOP-1")
    assert [(t.zh, t.en, t.synonyms) for t in found] == pairs
    assert all(t.origin == "mined" and t.evidence[0].doc_id == "SOP-1" for t in found)


def test_a_glossary_file_is_not_chunked_and_its_terms_are_in_the_generation(
    tmp_path: Path, fake_encoder: FakeEncoder
) -> None:
    _write(tmp_path / "docs", {**ENGLISH, **CHINESE, "glossary.csv": GLOSSARY})
    store = IndexStore(tmp_path / "home")
    summary = ingest([tmp_path / "docs"], store, fake_encoder)
    assert (summary.added, summary.failed, summary.glossary_terms) == (7, 0, 1)
    assert summary.chunks == 6  # one per document; none from the glossary
    glossary = live(store).glossary()
    assert [(t.zh, t.en, t.origin) for t in glossary.terms] == [
        ("護頂架", "overhead guard", "given")]  # fmt: skip


def test_a_glossary_change_makes_a_generation_and_changes_the_results(
    tmp_path: Path, fake_encoder: FakeEncoder
) -> None:
    docs, store = tmp_path / "docs", IndexStore(tmp_path / "home")
    _write(docs, {**ENGLISH, **CHINESE})
    first = ingest([docs], store, fake_encoder).generation
    source, expansions = _top(store, fake_encoder)
    assert source != "fl.md" and not any(e.source == "glossary" for e in expansions)
    (docs / "glossary.csv").write_text(GLOSSARY, encoding="utf-8")
    second = ingest([docs], store, fake_encoder).generation
    assert second == (first or 0) + 1
    source, expansions = _top(store, fake_encoder)
    assert source == "fl.md"
    first = expansions[0]
    assert (first.term, first.translations[0], first.source) == (
        "護頂架", "overhead guard", "glossary")  # fmt: skip
    again = ingest([docs], store, fake_encoder)
    assert (again.unchanged, again.generation) == (7, None)  # unchanged: no new generation
    (docs / "glossary.csv").write_text(GLOSSARY.replace("overhead guard", "roll cage"), "utf-8")
    assert ingest([docs], store, fake_encoder).generation == second + 1
    source, expansions = _top(store, fake_encoder)  # no passage says "roll cage": no match
    assert source != "fl.md" and not any(e.source == "glossary" for e in expansions)


def test_a_mined_pair_from_the_documents_never_overrides_the_glossary(
    tmp_path: Path, fake_encoder: FakeEncoder
) -> None:
    taught = {"im2.md": "# 射出\n\n毛邊(burr)要先清。對刀儀 (tool presetter) 要歸零。"}
    _write(tmp_path / "docs", {**ENGLISH, **CHINESE, **taught,
                               "glossary.csv": "zh,en\n毛邊,flash\n"})  # fmt: skip
    store = IndexStore(tmp_path / "home")
    ingest([tmp_path / "docs"], store, fake_encoder)
    terms = {(t.zh, t.en): t for t in live(store).glossary().terms}
    assert ("毛邊", "burr") not in terms and terms[("毛邊", "flash")].origin == "given"
    mined = terms[("對刀儀", "tool presetter")]
    assert (mined.origin, [(e.doc_id, e.count) for e in mined.evidence]) == (
        "mined", [("im2", 1)])  # fmt: skip


def test_a_file_reached_twice_through_a_symlink_is_ingested_once(tmp_path: Path) -> None:
    _write(tmp_path / "docs", {"glossary.csv": GLOSSARY})
    (tmp_path / "docs" / "eval").mkdir()
    (tmp_path / "docs" / "eval" / "glossary.csv").symlink_to(tmp_path / "docs" / "glossary.csv")
    found = discover([tmp_path / "docs"]).files
    assert [f.source for f in found] == ["glossary.csv"]


def test_the_glossary_over_http_hides_terms_mined_from_documents_one_may_not_read(
    tmp_path: Path, api_keys: dict[str, str]
) -> None:
    secret = {"secret.md": "---\naccess: [molding]\n---\n# 模具\n\n分模面 (parting line) 要擦。"}
    _write(tmp_path / "docs", {**ENGLISH, **CHINESE, **secret, "glossary.csv": GLOSSARY})
    encoder = FakeEncoder()
    ingest([tmp_path / "docs"], IndexStore(tmp_path / "home"), encoder)
    app = create_app(Settings(home=tmp_path / "home"), encoder_factory=lambda _: encoder)
    client = TestClient(app, raise_server_exceptions=False)
    molding = client.get("/v1/glossary", headers=bearer(api_keys["molding"])).json()
    assert {t["en"] for t in molding["terms"]} == {"overhead guard", "parting line"}
    reader = client.get("/v1/glossary", headers=bearer(api_keys["reader"])).json()
    assert (reader["given"], reader["mined"]) == (1, 0)
    assert reader["terms"][0] == {
        "zh": "護頂架", "en": "overhead guard", "synonyms": ["護頂"], "scope": "堆高機",
        "origin": "given", "confidence": 1.0, "evidence": [], "translates": True}  # fmt: skip
    only_mined = client.get("/v1/glossary?origin=mined", headers=bearer(api_keys["molding"]))
    assert [t["zh"] for t in only_mined.json()["terms"]] == ["分模面"]
    other = client.get("/v1/glossary?origin=other", headers=bearer(api_keys["reader"]))
    assert other.status_code == 422
    assert client.get("/v1/glossary").status_code == 401
    answer = client.post("/v1/query", json={"question": QUESTION, "k": 3},
                         headers=bearer(api_keys["reader"])).json()  # fmt: skip
    assert answer["expansions"][0] == {
        "term": "護頂架",
        "translations": ["overhead guard", "護頂"],
        "source": "glossary",
    }
    assert answer["passages"][0]["citation"]["source"] == "fl.md"


runner = CliRunner()


def test_the_cli_lists_exports_and_adds_terms_without_the_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    encoder = FakeEncoder()
    monkeypatch.setattr(cli_common, "make_runtime", lambda s: Runtime(s, lambda _: encoder))
    _write(tmp_path / "docs", {**ENGLISH, **CHINESE, "glossary.csv": GLOSSARY})
    home = str(tmp_path / "home")
    ingested = runner.invoke(cli.app, ["ingest", str(tmp_path / "docs"), "--home", home])
    assert ingested.exit_code == 0
    embedded = len(encoder.embedded)
    added = runner.invoke(cli.app, ["glossary", "add", "堆高機", "forklift", "--synonym", "叉車",
                                    "--home", home])  # fmt: skip
    assert added.exit_code == 0, added.output
    assert len(encoder.embedded) == embedded  # a glossary needs no passage embedded
    listed = runner.invoke(cli.app, ["glossary", "list", "--json", "--home", home])
    assert {(t["zh"], t["en"]) for t in json.loads(listed.stdout)} == {
        ("護頂架", "overhead guard"), ("堆高機", "forklift")}  # fmt: skip
    out = tmp_path / "export.csv"
    exported = runner.invoke(cli.app, ["glossary", "export", "--out", str(out), "--home", home])
    assert exported.exit_code == 0
    assert glossary_document(out, out.read_bytes()).terms  # an export ingests back
    assert "堆高機,forklift,叉車,,given,1," in out.read_text(encoding="utf-8")
    bad = runner.invoke(cli.app, ["glossary", "add", "forklift", "堆高機", "--home", home])
    assert bad.exit_code == 2 and "no Chinese characters" in bad.output
    wrong = runner.invoke(cli.app, ["glossary", "list", "--origin", "x", "--home", home])
    assert wrong.exit_code == 2


def test_a_glossary_file_loads_as_a_document_with_its_terms(tmp_path: Path) -> None:
    path = tmp_path / "glossary.csv"
    path.write_text(GLOSSARY, encoding="utf-8")
    document = load_document(SourceFile(path, tmp_path), path.read_bytes(), "glossary.csv").document
    listed = "護頂架 = overhead guard (護頂) [堆高機]"
    assert (document.kind, document.pages) == ("glossary", (listed,))
    assert document.terms[0].en == "overhead guard"


ZH_VERSION = """---
doc_id: SOP-FL-009
revision: A
language: zh-TW
---
# 堆高機操作前點檢

1. 踩下煞車，確認踏板不會軟。
2. 按喇叭，確認聲音清楚。
3. 檢查電瓶電量。
4. 倒車時按喇叭。
5. 下坡時輕踩煞車。
6. 停車後拔下鑰匙。
"""
EN_VERSION = """---
doc_id: SOP-FL-009
revision: A
language: en
---
# Forklift checks before use

1. Press the brake and check that the pedal is firm.
2. Sound the horn and check it is loud.
3. Look at the battery charge.
4. Use the horn when reversing.
5. Brake gently on slopes.
6. Remove the key after parking.
"""


def test_the_two_language_versions_of_one_document_teach_their_term_pairs(
    tmp_path: Path, fake_encoder: FakeEncoder
) -> None:
    docs, store = tmp_path / "docs", IndexStore(tmp_path / "home")
    _write(docs, {**ENGLISH, **CHINESE, "fl9.zh.md": ZH_VERSION, "fl9.en.md": EN_VERSION})
    summary = ingest([docs], store, fake_encoder)
    assert summary.failed == 0  # one doc_id and revision twice: allowed in two languages
    mined = {(t.zh, t.en): t for t in live(store).glossary().of("mined")}
    assert {("煞車", "brake"), ("喇叭", "horn"), ("確認", "check")} <= set(mined)
    assert [(e.doc_id, e.count) for e in mined[("煞車", "brake")].evidence] == [("SOP-FL-009", 2)]
    # only the English version changes: the pairs follow it
    (docs / "fl9.en.md").write_text(EN_VERSION.replace("horn", "klaxon"), encoding="utf-8")
    assert ingest([docs], store, fake_encoder).updated == 1
    after = {(t.zh, t.en) for t in live(store).glossary().of("mined")}
    assert ("喇叭", "klaxon") in after and ("喇叭", "horn") not in after
    # the same doc_id and revision in one language twice is still refused
    _write(docs, {"fl9.copy.md": EN_VERSION.replace("Remove the key", "Take the key")})
    again = ingest([docs], store, fake_encoder)
    assert again.failed == 1 and "already stored" in again.failures[0]["reason"]
