"""Documents as a plant writes them: metadata, encodings, transcripts, DOCX, revisions."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.loaders.files import LoadError, SourceFile, load_document
from ingest.pipeline import ingest
from retriever.ranking.modes import SearchError
from retriever.ranking.search import search
from retriever.store.index_store import IndexStore
from tests.fakes import FakeEncoder

SOP = "1. 確認毛邊位置。\n2. 降低射出壓力每次 5 bar。\n"


def load(path: Path) -> object:
    return load_document(SourceFile(path, path.parent), path.read_bytes(), path.name)


def write(folder: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    path = folder / name
    path.write_bytes(text.encode(encoding))
    return path


def test_front_matter_sets_metadata_and_is_not_indexed(tmp_path: Path) -> None:
    front = "---\ndoc_id: SOP-IM-012\nrevision: C\neffective_date: 2024-05-01\nline: L3\n"
    path = write(tmp_path, "a.md", front + "access: [molding, qa]\n---\n# 毛邊排除\n" + SOP)
    document = load(path).document  # type: ignore[attr-defined]
    meta = document.meta
    assert (meta.doc_id, meta.revision, meta.effective_date, meta.line) == (
        "SOP-IM-012", "C", "2024-05-01", "L3"
    )  # fmt: skip
    assert meta.access == ("molding", "qa") and "doc_id" not in document.text
    assert document.title == "毛邊排除" and set(meta.defaulted) >= {"title", "doc_type"}


def test_a_sidecar_wins_over_front_matter(tmp_path: Path) -> None:
    path = write(tmp_path, "a.txt", "---\nrevision: A\n---\n" + SOP)
    write(tmp_path, "a.txt.meta.yaml", "revision: B\ndoc_type: sop\nauthority: official\n")
    meta = load(path).document.meta  # type: ignore[attr-defined]
    assert (meta.revision, meta.doc_type, meta.authority) == ("B", "sop", "official")


@pytest.mark.parametrize(
    ("front", "message"),
    [
        ("effective_date: next week", "effective_date must be a date"),
        ("authority: boss", "authority must be one of"),
        ("doc_id: [a, b]", "doc_id must be a single value"),
        ("revision: 'C\n  bad: [", "invalid YAML"),
    ],
)
def test_bad_metadata_is_a_clear_error(tmp_path: Path, front: str, message: str) -> None:
    path = write(tmp_path, "a.md", f"---\n{front}\n---\n{SOP}")
    with pytest.raises(LoadError, match=message):
        load(path)


def test_unknown_metadata_fields_are_warned_about(tmp_path: Path) -> None:
    path = write(tmp_path, "a.md", f"---\nowner: 王課長\n---\n{SOP}")
    assert any("owner" in w for w in load(path).warnings)  # type: ignore[attr-defined]


@pytest.mark.parametrize("encoding", ["big5", "cp950", "utf-16", "utf-8-sig", "utf-16-le"])
def test_encodings_are_detected(tmp_path: Path, encoding: str) -> None:
    text = "射出成型毛邊排除作業標準\n" + SOP + "注意：禁止以提高鎖模力作為第一個對策。\n"
    document = load(write(tmp_path, "old.txt", text, encoding)).document  # type: ignore[attr-defined]
    assert "禁止以提高鎖模力" in document.text and "降低射出壓力" in document.text


def test_undecodable_bytes_are_an_error_not_mojibake(tmp_path: Path) -> None:
    path = tmp_path / "garbage.txt"
    path.write_bytes(bytes(range(0x80, 0x100)) * 20)
    with pytest.raises(LoadError, match=r"garbage\.txt"):
        load(path)


VTT = """WEBVTT

00:12:03.000 --> 00:12:06.000
<v 林工程師>毛邊出現時新人先做什麼？

00:12:06.500 --> 00:12:20.000
<v 王師傅>先看模面，九成的毛邊是模面有殘膠。

00:12:20.000 --> 00:13:10.000
<v 王師傅>不要一開始就加鎖模力。
"""

SRT = """1
00:00:05,000 --> 00:00:09,000
張工程師：profile 要多久量一次？

2
00:00:09,500 --> 00:00:21,000
李師傅：換線一定量，peak 溫度看 245°C。
"""


# each format's own first speaker, turn starts and end of the answer
SUBTITLES = [
    ("a.vtt", VTT, ("林工程師", "王師傅"), ("00:12:03", "00:12:06"), "00:13:10"),
    ("b.srt", SRT, ("張工程師", "李師傅"), ("00:00:05", "00:00:09"), "00:00:21"),
]


@pytest.mark.parametrize(("name", "text", "speakers", "starts", "end"), SUBTITLES)
def test_subtitles_become_turns_with_times(
    tmp_path: Path, name: str, text: str, speakers: tuple[str, str], starts: tuple[str, str],
    end: str,
) -> None:  # fmt: skip
    document = load(write(tmp_path, name, text)).document  # type: ignore[attr-defined]
    assert document.meta.doc_type == "interview" and document.meta.authority == "expert"
    assert tuple(t.speaker for t in document.turns) == speakers
    assert document.turns[0].is_interviewer and not document.turns[1].is_interviewer
    first, second = document.turns
    assert (first.time_start, second.time_start) == starts
    assert second.time_end == end


def test_an_interview_is_cited_by_speaker_and_time(tmp_path: Path) -> None:
    write(tmp_path, "wang.vtt", VTT)
    write(tmp_path, "wang.vtt.meta.yaml", "title: 訪談：王師傅\ndate: 2024-03-12\n")
    store, encoder = IndexStore(tmp_path / "home"), FakeEncoder()
    ingest([tmp_path / "wang.vtt"], store, encoder)
    snapshot = store.snapshot()
    assert snapshot is not None
    (hit,) = search(snapshot, encoder, "模面 殘膠 毛邊", k=1).passages
    assert "毛邊出現時新人先做什麼" in hit.text  # the question stays with its answer
    citation = hit.citation
    assert (citation.speaker, citation.start, citation.end) == ("王師傅", "00:12:03", "00:13:10")
    assert citation.label == "訪談：王師傅, 2024-03-12, 王師傅 00:12:03–00:13:10"


def test_plain_transcripts_with_q_and_a_lines(tmp_path: Path) -> None:
    text = (
        "---\ninterviewee: Mike Chen\n---\nQ: How slow do you warm up?\n"
        "A: Three hours on low fire in winter.\nQ: Why?\nA: The tube sheet cracks otherwise.\n"
    )
    document = load(write(tmp_path, "mike.txt", text)).document  # type: ignore[attr-defined]
    assert document.meta.doc_type == "interview"
    assert [t.speaker for t in document.turns] == ["Q", "Mike Chen", "Q", "Mike Chen"]


def test_docx_headings_numbered_steps_and_properties(tmp_path: Path) -> None:
    docx = pytest.importorskip("docx")
    word = docx.Document()
    word.core_properties.identifier, word.core_properties.version = "SOP-CNC-004", "A"
    word.add_paragraph("CNC 刀具更換", style="Title")
    word.add_paragraph("5. 換刀步驟", style="Heading 1")
    for text in ("在 MDI 輸入 T05 M06。", "按鬆刀鈕取下舊刀。", "裝上新刀。"):
        word.add_paragraph(text, style="List Number")
    word.add_paragraph("注意：鬆刀時刀具會掉落。")
    word.save(tmp_path / "cnc.docx")
    store, encoder = IndexStore(tmp_path / "home"), FakeEncoder()
    ingest([tmp_path / "cnc.docx"], store, encoder)
    snapshot = store.snapshot()
    assert snapshot is not None
    (hit,) = search(snapshot, encoder, "鬆刀 取下舊刀", k=1).passages
    assert hit.citation.label.startswith("SOP-CNC-004 rev A §5 step")
    assert "注意：鬆刀時刀具會掉落" in hit.text


def test_a_newer_revision_supersedes_the_older(tmp_path: Path) -> None:
    front = "---\ndoc_id: SOP-IM-012\nrevision: {rev}\ndoc_type: sop\n---\n"
    write(tmp_path, "c.md", front.format(rev="C") + "1. 降低射出壓力每次 5 bar。\n")
    store, encoder = IndexStore(tmp_path / "home"), FakeEncoder()
    ingest([tmp_path], store, encoder)
    write(tmp_path, "b.md", front.format(rev="B") + "1. 降低射出壓力每次 10 bar。\n")
    summary = ingest([tmp_path], store, encoder)
    assert summary.superseded == ["SOP-IM-012 rev B (b.md)"]
    snapshot = store.snapshot()
    assert snapshot is not None
    current = search(snapshot, encoder, "降低射出壓力", k=5).passages
    assert [p.citation.revision for p in current] == ["C"]
    both = search(snapshot, encoder, "降低射出壓力", k=5, include_superseded=True).passages
    old = next(p for p in both if p.citation.revision == "B")
    assert old.citation.superseded and old.citation.label.endswith("[superseded]")


def test_the_same_revision_twice_is_rejected_and_the_first_kept(tmp_path: Path) -> None:
    front = "---\ndoc_id: SOP-IM-012\nrevision: C\n---\n"
    write(tmp_path, "a.md", front + SOP)
    write(tmp_path, "b.md", front + SOP)
    summary = ingest([tmp_path], IndexStore(tmp_path / "home"), FakeEncoder())
    assert (summary.added, summary.failed) == (1, 1)
    assert "already stored from" in summary.failures[0]["reason"]


def test_filters_apply_before_ranking(tmp_path: Path, corpus_copy: Path) -> None:
    store, encoder = IndexStore(tmp_path / "home"), FakeEncoder()
    ingest([corpus_copy], store, encoder)
    snapshot = store.snapshot()
    assert snapshot is not None
    hits = search(snapshot, encoder, "毛邊 鎖模力", k=10, filters={"doc_type": ["interview"]})
    assert hits.passages and all(p.citation.doc_type == "interview" for p in hits.passages)
    lines = search(snapshot, encoder, "check", k=10, filters={"line": ["L2", "L4"]}).passages
    assert lines and {p.citation.doc_id for p in lines} <= {
        "SOP-SMT-010", "SOP-WD-007", "INT-CHEN-2024-06-20", "INT-LI-2024-08-05"
    }  # fmt: skip
    with pytest.raises(SearchError, match="cannot filter on"):
        search(snapshot, encoder, "x", k=1, filters={"doc_id; DROP TABLE": ["x"]})
