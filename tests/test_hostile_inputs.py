"""Hostile and broken inputs through the HTTP API and `shifu ingest`.

Each input must get a clear 4xx whose `detail` says what is wrong, or a per-file failure with
its reason; never a 5xx, a stack trace or the server's own paths. Afterwards the sample corpus
must be whole and searchable, nothing may have been written outside the data home, and the
server must still answer. Every input is built here (pypdf, fpdf2, plain bytes).

The API cases share one module-scoped app over the sample corpus, so the last API test checks
what the whole batch left behind; each case also checks that nothing stored was lost.
"""

from __future__ import annotations

import hashlib
import io
import json
import random
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from fpdf import FPDF
from pypdf import PdfReader, PdfWriter
from typer.testing import CliRunner

from ingest.pipeline import ingest
from retriever.store.index_store import IndexStore
from service import cli, cli_common
from service.app import create_app
from service.auth import Role, add_key
from service.runtime import Runtime
from service.settings import MIB, Settings
from tests.conftest import REPO, SAMPLE_FILES, bearer, png_header
from tests.fakes import FakeEncoder

ROLES: tuple[Role, ...] = ("reader", "editor", "admin")
PASSWD = Path("/etc/passwd")
OUTSIDE = (Path("/etc/passwd.md"), Path("/etc/passwd.txt"), Path("/boot.ini.txt"))
SMALL_LIMIT = 4096  # max_upload_bytes of the small app (the lowest Settings allows is 1024)
CHUNK = 1024
KNOWN = {"main disconnect padlock": "SOP-MT-001", "二段射出壓力 每次降低 bar": "SOP-IM-012"}
ZH_SOP = (
    "射出成型毛邊排除作業標準\n1. 確認毛邊位置。\n2. 降低射出壓力每次 5 bar。\n"
    "注意：禁止以提高鎖模力作為第一個對策。\n"
)
HIJACK = b"---\ndoc_id: SOP-IM-012\nrevision: C\n---\n1. Raise the clamping force first.\n"
TORQUE = "---\ndoc_id: SOP-TQ-009\nrevision: A\n---\n1. 扭力扳手 zirconia-torque 每週校正。\n"

runner = CliRunner()


class Response(Protocol):
    """What the tests read of a test client's response (httpx or httpx2, whichever it uses)."""

    @property
    def status_code(self) -> int: ...
    @property
    def text(self) -> str: ...
    @property
    def content(self) -> bytes: ...
    def json(self) -> Any: ...


# --- inputs ---------------------------------------------------------------------------------


def sop_pdf() -> bytes:
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", size=12)
    for step in range(1, 21):
        pdf.cell(0, 8, f"{step}. Close valve V-{step} before start-up.", new_x="LMARGIN",
                 new_y="NEXT")  # fmt: skip
    return bytes(pdf.output())


def written(writer: PdfWriter) -> bytes:
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def encrypted_pdf() -> bytes:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(sop_pdf())))
    writer.encrypt("secret", algorithm="RC4-128")  # AES would need `cryptography` installed
    return written(writer)


def scanned_pdf() -> bytes:
    """One blank page: a PDF with no text layer, as a scanner without OCR makes."""
    writer = PdfWriter()
    writer.add_blank_page(612, 792)
    return written(writer)


def yaml_bomb() -> bytes:
    """Front matter whose aliases expand to 9**8 values if anything walks them."""
    lines = ["---", "a: &a [x, x, x, x, x, x, x, x, x]"]
    for prev, name in zip("abcdefg", "bcdefgh", strict=True):
        lines.append(f"{name}: &{name} [{', '.join([f'*{prev}'] * 9)}]")
    return ("\n".join([*lines, "doc_id: *h", "---", "1. Close the valve.", ""])).encode()


def fifty_mb_text() -> bytes:
    """50 MB of plain steps with one NUL at the very end: the whole file must be read."""
    line = b"1. Close the valve before start-up.\n"
    return line * (50_000_000 // len(line)) + b"\x00"


def zip_not_docx() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("word.txt", "not a word document")
    return out.getvalue()


def invalid_utf8() -> bytes:
    data = ZH_SOP.encode()
    return data[:10] + b"\xff" + data[10:]


OLE_HEADER = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # Office's encrypted and legacy container


@dataclass(frozen=True)
class BadFile:
    """A broken file, the name it is sent under, and what its failure reason must say."""

    name: str
    make: Callable[[], bytes]
    reason: str


FILES: dict[str, BadFile] = {
    "encrypted-pdf": BadFile("encrypted.pdf", encrypted_pdf, "encrypted PDF (password required)"),
    "truncated-pdf": BadFile("truncated.pdf", lambda: sop_pdf()[: len(sop_pdf()) // 2],
                             "corrupt or unreadable PDF"),
    "pdf-without-trailer": BadFile("no-trailer.pdf", lambda: sop_pdf()[:-30],
                                   "corrupt or unreadable PDF"),
    "pdf-no-text-layer": BadFile("scanned.pdf", scanned_pdf, "no text found, also by OCR"),
    "text-named-pdf": BadFile("text.pdf", lambda: b"1. Not a PDF at all.\n",
                              "corrupt or unreadable PDF"),
    "text-named-docx": BadFile("text.docx", lambda: b"1. Not a DOCX.\n",
                               "corrupt or unreadable DOCX"),
    "zip-not-docx": BadFile("archive.docx", zip_not_docx, "corrupt or unreadable DOCX"),
    "zero-byte": BadFile("zero.txt", lambda: b"", "empty file"),
    "whitespace-only": BadFile("blank.md", lambda: b"  \n\t\r\n", "empty file"),
    "binary-named-txt": BadFile("image.txt", lambda: b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8,
                                "binary file, not text"),
    "random-bytes-md": BadFile("random.md", lambda: random.Random(7).randbytes(4096),
                               "binary file, not text"),
    "nul-inside-text": BadFile("nul.txt", lambda: b"1. Close valve A.\x00\n2. Open valve B.\n",
                               "control characters"),
    "terminal-escapes": BadFile("escapes.txt", lambda: b"1. Step \x1b[31m red \x07 bell\n",
                                "control characters"),
    "invalid-utf8": BadFile("invalid.txt", invalid_utf8, "not UTF-8, UTF-16 or Big5"),
    "overlong-utf8": BadFile("overlong.md", lambda: b"1. \xc0\xaf\xc0\xaf \xed\xa0\x80 x\n" * 10,
                             "not UTF-8, UTF-16 or Big5"),
    "big5-behind-utf8-bom": BadFile("bom.txt", lambda: b"\xef\xbb\xbf" + ZH_SOP.encode("big5"),
                                    "invalid utf-8-sig text"),
    "vtt-without-cues": BadFile("empty.vtt", lambda: b"WEBVTT\n\nNOTE nothing said\n",
                                "no speaker turns found"),
    "srt-bad-timestamps": BadFile("broken.srt", lambda: b"1\nnot a time --> also not\nhello\n",
                                  "malformed SRT"),
    "broken-yaml": BadFile("yaml.md", lambda: b"---\nrevision: 'C\n  bad: [\n---\n1. x\n",
                           "invalid YAML in front matter"),
    "sql-in-date": BadFile("date.md", lambda: b"---\neffective_date: \"'; DROP TABLE documents;"
                           b' --"\n---\n1. x\n', "effective_date must be a date"),
    "yaml-alias-bomb": BadFile("bomb.md", yaml_bomb, "doc_id must be a single value"),
    "claims-stored-revision": BadFile("hijack.md", lambda: HIJACK, "is already stored"),
    # the formats a plant keeps besides text: images, workbooks, decks, legacy Office
    "png-decompression-bomb": BadFile("bomb.png", lambda: png_header(20_000, 20_000),
                                      "over the 80 MP limit"),
    "corrupt-jpeg": BadFile("corrupt.jpg", lambda: b"\xff\xd8\xff\xe0" + b"\x00bad" * 64,
                            "corrupt or unreadable image"),
    "password-protected-xlsx": BadFile("locked.xlsx", lambda: OLE_HEADER + b"\x00" * 512,
                                       "password-protected or damaged"),
    "zip-not-pptx": BadFile("deck.pptx", zip_not_docx, "corrupt or unreadable PPTX"),
    "doc-without-libreoffice": BadFile("old.doc", lambda: OLE_HEADER + b"\x00" * 512,
                                       "LibreOffice"),  # to install, or could not convert
    "fifty-mb-text": BadFile("fifty-mb.txt", fifty_mb_text, "control characters"),
}  # fmt: skip


def file_params() -> list[object]:
    return [pytest.param(case, id=key) for key, case in FILES.items()]


# --- the API under attack -------------------------------------------------------------------


@dataclass(frozen=True)
class Server:
    """The module's one app over the sample corpus, and what was true before any hostile call."""

    client: TestClient
    root: Path
    keys: dict[str, str]
    chunks: int
    paths: frozenset[str]
    passwd: str
    outside: frozenset[Path]
    sources: dict[str, str]

    @property
    def home(self) -> Path:
        return self.root / "home"

    @property
    def uploads(self) -> Path:
        return self.home / "uploads"

    def key(self, role: str) -> dict[str, str]:
        return bearer(self.keys[role])


def tree(root: Path) -> frozenset[str]:
    return frozenset(p.relative_to(root).as_posix() for p in root.rglob("*"))


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else ""


def digests(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): digest(p) for p in folder.rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Server:
    root = tmp_path_factory.mktemp("hostile-api")
    shutil.copytree(REPO / "corpus", root / "corpus")
    encoder = FakeEncoder()
    assert ingest([root / "corpus"], IndexStore(root / "home"), encoder).added == SAMPLE_FILES
    keys: dict[str, str] = {
        role: add_key(root / "home" / "keys.yaml", role, role, []) for role in ROLES
    }
    app = create_app(Settings(home=root / "home"), encoder_factory=lambda _: encoder)
    client = TestClient(app, raise_server_exceptions=False, headers=bearer(keys["reader"]))
    chunks = client.get("/v1/health").json()["chunks"]
    outside = frozenset(p for p in OUTSIDE if p.exists())
    sources = digests(root / "corpus")
    return Server(client, root, keys, chunks, tree(root), digest(PASSWD), outside, sources)


@pytest.fixture(scope="module")
def small_client(server: Server) -> TestClient:
    """A second app over the same home whose upload limit is 4 KiB, to reach 413 cheaply."""
    settings = Settings(home=server.home, max_upload_bytes=SMALL_LIMIT)
    app = create_app(settings, encoder_factory=lambda _: FakeEncoder())
    return TestClient(app, raise_server_exceptions=False, headers=server.key("editor"))


def detail(response: Response) -> str:
    """The error's `detail`: the service's sentence, or FastAPI's list of field errors (422
    validation) joined into one, each with the field it is about."""
    value = response.json()["detail"]
    if isinstance(value, str):
        return value
    return "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in value)


def assert_no_leak(response: Response, server: Server) -> None:
    assert "Traceback" not in response.text
    assert str(server.home) not in response.text, response.text


def assert_refused(response: Response, server: Server, status: int, message: str) -> None:
    """A 4xx whose detail says what is wrong, without a stack trace or the server's paths."""
    assert 400 <= status < 500
    assert response.status_code == status, response.text
    assert detail(response).strip() and message in detail(response), response.text
    assert_no_leak(response, server)


def document_total(server: Server) -> int:
    params = {"include_superseded": "true", "per_page": "100"}
    listed = server.client.get("/v1/documents", params=params, headers=server.key("admin"))
    assert listed.status_code == 200, listed.text
    total: int = listed.json()["total"]
    return total


def assert_intact(server: Server) -> None:
    """The server answers and holds the whole sample corpus, nothing more or less."""
    health = server.client.get("/v1/health")
    assert health.status_code == 200 and health.json()["status"] == "ok", health.text
    assert health.json()["chunks"] == server.chunks
    assert document_total(server) == SAMPLE_FILES


def upload(
    client: TestClient, headers: dict[str, str], *files: tuple[str, bytes], **form: str
) -> Response:
    parts = [("files", file) for file in files]
    return client.post("/v1/documents", files=parts or None, data=form or None, headers=headers)


def failed_row(response: Response) -> dict[str, str]:
    """The one file row of an upload that failed, or was skipped as a type Shifu does not
    read; the row must carry a reason."""
    [row] = response.json()["files"]
    assert row["status"] in ("failed", "skipped") and row["reason"], row
    return dict(row)


def passages(client: TestClient, body: dict[str, Any]) -> list[dict[str, Any]]:
    response = client.post("/v1/query", json=body)
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()["passages"]
    return found


def doc_ids(found: list[dict[str, Any]]) -> set[str]:
    return {p["citation"]["doc_id"] for p in found}


def delete(server: Server, doc_id: str) -> Response:
    return server.client.delete(f"/v1/documents/{quote(doc_id, safe='')}",
                                headers=server.key("editor"))  # fmt: skip


# --- uploads ----------------------------------------------------------------------------------


@pytest.mark.parametrize("case", file_params())
def test_api_upload_names_each_broken_file(server: Server, case: BadFile) -> None:
    response = upload(server.client, server.key("editor"), (case.name, case.make()))
    assert response.status_code == 422, response.text
    row = failed_row(response)
    assert row["file"] == case.name and case.reason in row["reason"], row
    assert_no_leak(response, server)
    assert_intact(server)


@pytest.mark.parametrize(
    ("raw", "stored"),
    [
        pytest.param("../../etc/passwd.md", "passwd.md", id="dot-dot-slash"),
        pytest.param("/etc/passwd.txt", "passwd.txt", id="absolute"),
        pytest.param("..\\..\\boot.ini.txt", "boot.ini.txt", id="backslashes"),
        pytest.param("．．／fullwidth.md", "fullwidth.md", id="fullwidth-dot-dot-slash"),
        pytest.param("x\u2215y.md", "x_y.md", id="division-slash"),
        pytest.param("evil\u202etxt.md", "eviltxt.md", id="rtl-override"),
        pytest.param("zero\u200bwidth.md", "zerowidth.md", id="zero-width-space"),
        pytest.param("ℌ𝔢𝔩𝔩𝔬.md", "Hello.md", id="math-letters"),
        pytest.param("SОP-IM-012.md", "SОP-IM-012.md", id="cyrillic-o-lookalike"),
        pytest.param("../.staging/sneak.md", "sneak.md", id="into-staging"),
    ],
)
def test_api_hostile_names_are_stored_inside_uploads(server: Server, raw: str, stored: str) -> None:
    text = f"1. Close valve {stored!r} before start-up.\n".encode()
    response = upload(server.client, server.key("editor"), (raw, text))
    assert response.status_code == 200, response.text
    [row] = response.json()["files"]
    assert (row["file"], row["status"]) == (stored, "added"), row
    assert (server.uploads / stored).is_file()
    assert delete(server, row["doc_id"]).status_code == 200
    assert not (server.uploads / stored).exists()
    assert_intact(server)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        pytest.param("SOP\u202edm.exe", ".exe files are not read", id="rtl-hides-exe"),
        pytest.param("a" * 300 + ".md", "unusable file name", id="300-char-name"),
        pytest.param("..", "unusable file name", id="dot-dot"),
        pytest.param("...", "unusable file name", id="only-dots"),
        pytest.param("/etc/passwd", "(none) files are not read", id="etc-passwd"),
        pytest.param(".staging", "(none) files are not read", id="staging-folder"),
    ],
)
def test_api_unusable_names_fail_with_a_reason(server: Server, raw: str, reason: str) -> None:
    response = upload(server.client, server.key("editor"), (raw, b"1. Close the valve.\n"))
    assert response.status_code == 422, response.text
    assert reason in failed_row(response)["reason"]
    assert_no_leak(response, server)
    assert_intact(server)


def test_api_lists_a_file_of_an_unread_type_as_skipped(server: Server) -> None:
    good, unread = ("skip-probe.md", b"1. Skip probe step.\n"), ("layout.dwg", b"AC1032")
    response = upload(server.client, server.key("editor"), good, unread)
    assert response.status_code == 200, response.text
    rows = {row["file"]: row for row in response.json()["files"]}
    assert rows["skip-probe.md"]["status"] == "added"
    assert rows["layout.dwg"]["status"] == "skipped"
    assert ".dwg files are not read" in rows["layout.dwg"]["reason"]
    assert delete(server, rows["skip-probe.md"]["doc_id"]).status_code == 200
    assert_intact(server)


GOOD = ("metadata-probe.md", b"1. Metadata probe step.\n")
NESTED = "[" * 10_000 + "]" * 10_000


@pytest.mark.parametrize(
    ("files", "form", "role", "status", "message"),
    [
        pytest.param((), {"metadata": "{}"}, "editor", 422, "Field required", id="no-files"),
        pytest.param((), {"files": "not a file"}, "editor", 422, "Expected UploadFile",
                     id="files-as-text-field"),
        pytest.param((("", b"1. x\n"),), {}, "editor", 422, "Expected UploadFile",
                     id="empty-file-name"),
        pytest.param(tuple((f"f{i}.md", b"1. x\n") for i in range(21)), {}, "editor", 422,
                     "21 files; at most 20", id="21-files"),
        pytest.param((GOOD,), {"metadata": "[1, 2]"}, "editor", 422,
                     "metadata: Input should be an object",
                     id="metadata-list"),
        pytest.param((GOOD,), {"metadata": "{"}, "editor", 422, "metadata: Invalid JSON",
                     id="metadata-broken-json"),
        pytest.param((GOOD,), {"metadata": '{"effective_date": "\'; DROP TABLE documents; --"}'},
                     "editor", 422, "effective_date: Input should be a valid date",
                     id="metadata-sql-date"),
        pytest.param((GOOD,), {"metadata": '{"doc_id": ["a", "b"]}'}, "editor", 422,
                     "doc_id: Input should be a valid string", id="metadata-two-doc-ids"),
        pytest.param((GOOD,), {"metadata": NESTED}, "editor", 422, "metadata",
                     id="metadata-nested-10k"),
        pytest.param((GOOD,), {"metadata": '{"doc_id": "\\ud800"}'}, "editor", 422, "metadata",
                     id="metadata-lone-surrogate"),
        pytest.param((GOOD,), {}, "reader", 403, "needs the editor role", id="reader-uploads"),
        pytest.param((GOOD,), {}, "nobody", 401, "unknown API key", id="unknown-key-uploads"),
    ],
)  # fmt: skip
def test_api_bad_upload_requests_get_a_4xx(
    server: Server,
    files: tuple[tuple[str, bytes], ...],
    form: dict[str, str],
    role: str,
    status: int,
    message: str,
) -> None:
    headers = bearer("shifu_not_a_key") if role == "nobody" else server.key(role)
    assert_refused(upload(server.client, headers, *files, **form), server, status, message)
    assert_intact(server)


def test_api_upload_just_over_fifty_mib_gets_413(server: Server) -> None:
    response = upload(server.client, server.key("editor"), ("big.txt", b"x" * (50 * MIB + 1)))
    assert_refused(response, server, 413, f"exceeds the limit of {50 * MIB} bytes")
    assert_intact(server)


@pytest.mark.parametrize(
    ("files", "message"),
    [
        pytest.param((("a.txt", b"1. word\n" * 640),), f"limit of {SMALL_LIMIT} bytes",
                     id="one-file-over"),
        pytest.param((("a.txt", b"1. word\n" * 25_000),), "request body over the limit",
                     id="body-over-header-limit"),
        pytest.param((("a.txt", b"1. word\n" * 380), ("b.txt", b"1. word\n" * 380)),
                     f"limit of {SMALL_LIMIT} bytes", id="two-files-over"),
    ],
)  # fmt: skip
def test_api_uploads_over_the_limit_get_413(
    server: Server, small_client: TestClient, files: tuple[tuple[str, bytes], ...], message: str
) -> None:
    response = upload(small_client, server.key("editor"), *files)
    assert_refused(response, server, 413, message)
    assert_intact(server)


def chunked(head: bytes, size: int, tail: bytes) -> Iterator[bytes]:
    """A body sent without Content-Length, so only counting it can catch its size."""
    yield head
    for _ in range(size // CHUNK):
        yield b"x" * CHUNK
    yield tail


PART = b'--B\r\nContent-Disposition: form-data; name="files"; filename="big.txt"\r\n\r\n'


def test_api_chunked_json_over_the_limit_gets_413(server: Server) -> None:
    body = chunked(b'{"question": "', 70 * 1024, b'"}')
    response = server.client.post("/v1/query", content=body,
                                  headers={"content-type": "application/json"})  # fmt: skip
    assert_refused(response, server, 413, "over the limit")


def test_api_chunked_upload_over_the_limit_gets_413(
    server: Server, small_client: TestClient
) -> None:
    body = chunked(PART, 200 * 1024, b"\r\n--B--\r\n")
    headers = {"content-type": "multipart/form-data; boundary=B"}
    assert_refused(small_client.post("/v1/documents", content=body, headers=headers), server,
                   413, "over the limit")  # fmt: skip


def test_api_big5_labelled_utf8_is_read_as_big5(server: Server) -> None:
    data = ZH_SOP.encode("big5")
    parts = [("files", ("big5-sop.txt", data, "text/plain; charset=utf-8"))]
    response = server.client.post("/v1/documents", files=parts, headers=server.key("editor"))
    assert response.status_code == 200, response.text
    [row] = response.json()["files"]
    assert row["status"] == "added", row
    try:
        found = passages(server.client, {"question": "鎖模力 毛邊",
                                         "filters": {"doc_id": row["doc_id"]}})  # fmt: skip
        assert "禁止以提高鎖模力作為第一個對策" in " ".join(p["text"] for p in found)
        assert server.client.get(f"/v1/documents/{row['doc_id']}/file").content == data
    finally:
        assert delete(server, row["doc_id"]).status_code == 200
    assert_intact(server)


# --- queries ----------------------------------------------------------------------------------


def ask(**fields: object) -> dict[str, object]:
    return {"question": "lockout padlock", **fields}


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        pytest.param({"question": "x" * 2001}, 422, "2001 characters; the limit is 2000",
                     id="question-2001-chars"),
        pytest.param({"question": "毛" * 20_000}, 422, "20000 characters; the limit is 2000",
                     id="question-20000-cjk"),
        pytest.param({"question": " \n\t "}, 422, "question is empty", id="question-blank"),
        pytest.param({"question": None}, 422, "valid string", id="question-null"),
        pytest.param({"question": ["lockout"]}, 422, "valid string", id="question-list"),
        pytest.param({"k": 5}, 422, "Field required", id="no-question"),
        pytest.param(ask(k=0), 422, "greater than or equal to 1", id="k-0"),
        pytest.param(ask(k=-1), 422, "greater than or equal to 1", id="k-negative"),
        pytest.param(ask(k=10_000), 422, "less than or equal to 50", id="k-10000"),
        pytest.param(ask(k="5; DROP TABLE chunks"), 422, "valid integer", id="k-sql"),
        pytest.param(ask(k=1e300), 422, "integer", id="k-1e300"),
        pytest.param(ask(mode="'; DROP TABLE chunks; --"), 422, "Input should be 'dense'",
                     id="mode-sql"),
        pytest.param(ask(mode="hybrid+rerank"), 422, "needs a reranker", id="rerank-unset"),
        pytest.param(ask(include_superseded="'; DROP"), 422, "valid boolean",
                     id="include-superseded-sql"),
        pytest.param(ask(filters={"doc_id; DROP TABLE chunks": "x"}), 422, "cannot filter on",
                     id="filter-key-sql"),
        pytest.param(ask(filters={"$where": "1 == 1"}), 422, "cannot filter on",
                     id="filter-key-operator"),
        pytest.param(ask(filters={"line": {"$ne": None}}), 422, "valid string",
                     id="filter-ne-operator"),
        pytest.param(ask(filters=[["doc_id", "x"]]), 422, "valid dictionary",
                     id="filters-as-list"),
        pytest.param(ask(filters="doc_id = 'x' OR 1=1"), 422, "valid dictionary",
                     id="filters-as-sql-string"),
        pytest.param(ask(filters={"line": []}), 422, "at least 1 item", id="filter-empty-list"),
        pytest.param(ask(filters={"line": ""}), 422, "at least 1 character",
                     id="filter-empty-string"),
        pytest.param(ask(filters={"line": "x" * 201}), 422, "at most 200",
                     id="filter-value-201-chars"),
        pytest.param(ask(filters={f"f{i}": "x" for i in range(11)}), 422, "at most 10 items",
                     id="eleven-filters"),
        pytest.param(ask(filter={"doc_id": "SOP-IM-012"}), 422, "filter",
                     id="unknown-field"),
    ],
)  # fmt: skip
def test_api_bad_queries_get_a_4xx(
    server: Server, body: dict[str, object], status: int, message: str
) -> None:
    assert_refused(server.client.post("/v1/query", json=body), server, status, message)
    assert_intact(server)


@pytest.mark.parametrize(
    ("body", "allowed"),
    [
        pytest.param(ask(filters={"doc_id": "x' OR '1'='1"}), set(), id="filter-or-1-1"),
        pytest.param(ask(filters={"doc_id": ["x') OR ('1'='1", "SOP-MT-001"]}), {"SOP-MT-001"},
                     id="filter-list-with-injection"),
        pytest.param(ask(filters={"doc_id": "%"}), set(), id="filter-like-wildcard"),
        pytest.param(ask(filters={"doc_id": "*"}), set(), id="filter-glob"),
        pytest.param(ask(filters={"source": "../../etc/passwd"}), set(), id="filter-traversal"),
        pytest.param(ask(filters={"doc_id": ["a"] * 15_000}), set(), id="filter-15000-values"),
        pytest.param({"question": "'; DROP TABLE chunks; --"}, None, id="question-sql"),
        pytest.param({"question": "lock\x00out padlock"}, None, id="question-nul"),
        pytest.param({"question": "\u202elockout\u200b padlock"}, None, id="question-bidi"),
    ],
)  # fmt: skip
def test_api_injection_strings_match_nothing_extra(
    server: Server, body: dict[str, object], allowed: set[str] | None
) -> None:
    """A filter value is data, never SQL or a pattern: it matches only the documents it names."""
    found = passages(server.client, body)
    if allowed is not None:
        assert doc_ids(found) == allowed
    assert_intact(server)


JSON = {"content-type": "application/json"}


@pytest.mark.parametrize(
    ("content", "headers", "status", "message"),
    [
        pytest.param(NESTED.encode(), JSON, 400, "error parsing the body", id="nested-10k-lists"),
        pytest.param(b'{"question": "x", "filters": ' + b'{"a": ' * 5000 + b"1" + b"}" * 5001,
                     JSON, 400, "error parsing the body", id="nested-5k-objects"),
        pytest.param(json.dumps({"question": "x" * 70_000}).encode(), JSON, 413,
                     "request body over the limit of 65536 bytes", id="json-over-64kib"),
        pytest.param(b'{"question":', JSON, 422, "JSON decode error", id="truncated-json"),
        pytest.param(b"", JSON, 422, "Field required", id="empty-body"),
        pytest.param(b'["question"]', JSON, 422, "valid dictionary", id="json-array"),
        pytest.param(b'{"question": "lockout"}', {"content-type": "text/plain"}, 422,
                     "valid dictionary", id="text-plain"),
        pytest.param(b'{"question": "\\ud800 lockout"}', JSON, 422, "question",
                     id="question-lone-surrogate"),
        pytest.param(b'{"question": "x", "filters": {"doc_id": "\\ud800"}}', JSON, 422, "doc_id",
                     id="filter-lone-surrogate"),
        pytest.param(b'{"question": "x", "k": NaN}', JSON, 422, "finite number", id="k-nan"),
    ],
)  # fmt: skip
def test_api_malformed_query_bodies_get_a_4xx(
    server: Server, content: bytes, headers: dict[str, str], status: int, message: str
) -> None:
    response = server.client.post("/v1/query", content=content, headers=headers)
    assert_refused(response, server, status, message)
    assert_intact(server)


# --- reading and deleting documents, keys ---------------------------------------------------


@pytest.mark.parametrize(
    ("method", "url", "role", "status", "message"),
    [
        ("GET", "/v1/documents?owner=x", "reader", 422, "cannot filter on ['owner']"),
        ("GET", "/v1/documents?doc_id;DROP TABLE documents=x", "reader", 422, "cannot filter on"),
        ("GET", "/v1/documents?page=0", "reader", 422, "greater than or equal to 1"),
        ("GET", "/v1/documents?per_page=101", "reader", 422, "less than or equal to 100"),
        ("GET", "/v1/documents?page=1;DROP TABLE documents", "reader", 422, "valid integer"),
        ("GET", "/v1/documents/..%2F..%2Fetc%2Fpasswd/file", "reader", 404, "Not Found"),
        ("GET", "/v1/documents/%2e%2e/file", "reader", 404, "no document '..'"),
        ("GET", "/v1/documents/%00", "reader", 404, "no document"),
        ("GET", "/v1/documents/SOP-IM-012/file?revision=../../etc/passwd", "reader", 404,
         "no revision '../../etc/passwd'"),
        ("GET", "/v1/documents/' OR '1'='1", "admin", 404, "no document"),
        ("DELETE", "/v1/documents/' OR '1'='1", "editor", 404, "no document"),
        ("DELETE", "/v1/documents/%25", "editor", 404, "no document '%'"),
        ("DELETE", "/v1/documents/*", "editor", 404, "no document '*'"),
        ("DELETE", "/v1/documents/SOP-IM-012?revision=' OR 1=1 --", "editor", 404,
         "no revision"),
        ("DELETE", "/v1/documents/SOP-IM-012", "reader", 403, "needs the editor role"),
        ("GET", "/v1/jobs/..%2F..%2Fetc%2Fpasswd", "editor", 404, "Not Found"),
        ("GET", "/v1/jobs/abc' OR 1=1", "editor", 404, "no job"),
    ],
)  # fmt: skip
def test_api_hostile_document_urls_get_a_4xx(
    server: Server, method: str, url: str, role: str, status: int, message: str
) -> None:
    response = server.client.request(method, url, headers=server.key(role))
    assert_refused(response, server, status, message)
    assert_intact(server)


@pytest.mark.parametrize(
    "url",
    [
        "/v1/documents?doc_id=' OR 1=1 --",
        "/v1/documents?doc_id=%25",
        "/v1/documents?source=../../etc/passwd",
        "/v1/documents?doc_id=%ED%A0%80",  # the UTF-8 bytes of a lone surrogate
    ],
)
def test_api_listing_filters_are_data(server: Server, url: str) -> None:
    response = server.client.get(url, headers=server.key("admin"))
    assert response.status_code == 200, response.text
    assert response.json()["total"] == 0


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        pytest.param({"Authorization": ""}, "API key is required", id="no-key"),
        pytest.param({"Authorization": "Bearer "}, "API key is required", id="empty-bearer"),
        pytest.param({"Authorization": "Basic Zm9vOmJhcg=="}, "API key is required", id="basic"),
        pytest.param(bearer("shifu_not_a_key"), "unknown API key", id="unknown-key"),
        pytest.param(bearer("k" * 100_000), "unknown API key", id="100k-char-key"),
        pytest.param(bearer("' OR '1'='1"), "unknown API key", id="sql-key"),
        pytest.param({"Authorization": "", "X-API-Key": "' OR 1=1 --"}, "unknown API key",
                     id="sql-x-api-key"),
    ],
)  # fmt: skip
def test_api_bad_keys_get_401(server: Server, headers: dict[str, str], message: str) -> None:
    response = server.client.post("/v1/query", json=ask(), headers=headers)
    assert_refused(response, server, 401, message)


# --- what an accepted upload must not destroy (one fresh app each) ---------------------------


def assert_torque_kept(client: TestClient) -> None:
    assert client.get("/v1/documents/SOP-TQ-009/file").content == TORQUE.encode()
    found = passages(client, {"question": "zirconia-torque", "k": 1})
    assert doc_ids(found) == {"SOP-TQ-009"}


def test_a_broken_reupload_keeps_the_stored_original(
    client: TestClient, api_keys: dict[str, str]
) -> None:
    editor = bearer(api_keys["editor"])
    assert upload(client, editor, ("torque.md", TORQUE.encode())).status_code == 200
    again = upload(client, editor, ("torque.md", b"\x00\x01 not text"))
    assert again.status_code == 422 and "binary" in failed_row(again)["reason"]
    assert_torque_kept(client)


def test_a_reupload_rejected_at_ingest_keeps_the_stored_original(
    client: TestClient, api_keys: dict[str, str]
) -> None:
    editor = bearer(api_keys["editor"])
    assert upload(client, editor, ("torque.md", TORQUE.encode())).status_code == 200
    assert "already stored" in failed_row(upload(client, editor, ("torque.md", HIJACK)))["reason"]
    assert_torque_kept(client)


def test_a_file_rejected_at_ingest_is_not_kept(
    client: TestClient, api_keys: dict[str, str], tmp_path: Path
) -> None:
    response = upload(client, bearer(api_keys["editor"]), ("clash.md", HIJACK))
    assert "already stored" in failed_row(response)["reason"]
    assert not (tmp_path / "home" / "uploads" / "clash.md").exists()


# --- after the API batch ----------------------------------------------------------------------


def allowed_new(path: str) -> bool:
    """What the API batch may create: uploads, index generations, jobs and the audit log."""
    return path.startswith(("home/uploads/", "home/index/", "home/jobs/", "home/audit.sqlite")
                           ) or path in ("home/uploads", "home/jobs")  # fmt: skip


def test_after_the_api_batch_the_corpus_is_whole_and_nothing_escaped(server: Server) -> None:
    assert_intact(server)
    for question, doc_id in KNOWN.items():
        assert doc_id in doc_ids(passages(server.client, {"question": question, "k": 3}))
    original = server.root / "corpus" / "sop" / "SOP-MT-001_lockout-tagout.md"
    assert server.client.get("/v1/documents/SOP-MT-001/file").content == original.read_bytes()
    assert digests(server.root / "corpus") == server.sources
    now = tree(server.root)
    assert not [p for p in now - server.paths if not allowed_new(p)]
    assert not [p for p in now if "passwd" in p or "boot.ini" in p or "\\" in p]
    assert not (server.root / "etc").exists() and not (server.home / "etc").exists()
    assert not list((server.uploads / ".staging").iterdir())
    assert digest(PASSWD) == server.passwd
    assert frozenset(p for p in OUTSIDE if p.exists()) == server.outside


# --- the command line -------------------------------------------------------------------------


@dataclass(frozen=True)
class CliHome:
    home: Path
    documents: frozenset[tuple[str, str | None, str]]


def fake_cli_runtime(patch: pytest.MonkeyPatch) -> None:
    encoder = FakeEncoder()
    patch.setattr(cli_common, "make_runtime", lambda s: Runtime(s, lambda _: encoder))


@pytest.fixture(autouse=True)
def fake_runtime(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_cli_runtime(monkeypatch)


def shifu(*args: str) -> Any:
    return runner.invoke(cli.app, list(args))


def stored_documents(home: Path) -> frozenset[tuple[str, str | None, str]]:
    snapshot = IndexStore(home).snapshot()
    assert snapshot is not None
    try:
        _, rows = snapshot.documents_where({}, True, None)
    finally:
        snapshot.close()
    return frozenset((row.doc_id, row.meta.revision, row.source) for row, _ in rows)


@pytest.fixture(scope="module")
def cli_home(tmp_path_factory: pytest.TempPathFactory) -> CliHome:
    root = tmp_path_factory.mktemp("hostile-cli")
    shutil.copytree(REPO / "corpus", root / "corpus")
    with pytest.MonkeyPatch.context() as patch:
        fake_cli_runtime(patch)
        result = shifu("ingest", str(root / "corpus"), "--home", str(root / "home"), "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["added"] == SAMPLE_FILES
    return CliHome(root / "home", stored_documents(root / "home"))


def ingest_json(home: Path, *paths: Path) -> tuple[int, dict[str, Any]]:
    result = shifu("ingest", *map(str, paths), "--home", str(home), "--json")
    assert "Traceback" not in result.output
    summary: dict[str, Any] = json.loads(result.stdout)
    return result.exit_code, summary


@pytest.mark.parametrize("case", file_params())
def test_cli_ingest_names_each_broken_file(
    case: BadFile, cli_home: CliHome, tmp_path: Path
) -> None:
    path = tmp_path / case.name
    path.write_bytes(case.make())
    code, summary = ingest_json(cli_home.home, path)
    assert code == 1
    assert (summary["added"], summary["failed"], summary["generation"]) == (0, 1, None)
    [failure] = summary["failures"]
    assert Path(failure["path"]).name == case.name and case.reason in failure["reason"]
    assert stored_documents(cli_home.home) == cli_home.documents


def test_cli_ingest_of_a_folder_of_broken_files_names_each(
    cli_home: CliHome, tmp_path: Path
) -> None:
    small = [case for key, case in FILES.items() if key != "fifty-mb-text"]
    for case in small:
        (tmp_path / case.name).write_bytes(case.make())
    code, summary = ingest_json(cli_home.home, tmp_path)
    assert code == 1 and (summary["added"], summary["failed"]) == (0, len(small))
    reasons = {Path(f["path"]).name: f["reason"] for f in summary["failures"]}
    assert all(case.reason in reasons[case.name] for case in small), reasons
    assert stored_documents(cli_home.home) == cli_home.documents


def test_cli_ingest_of_a_missing_path_is_a_failure(cli_home: CliHome, tmp_path: Path) -> None:
    code, summary = ingest_json(cli_home.home, tmp_path / "../../etc/nope.md")
    assert code == 1 and "no such file or folder" in summary["failures"][0]["reason"]
    assert stored_documents(cli_home.home) == cli_home.documents


def test_cli_big5_text_is_ingested_as_big5(tmp_path: Path) -> None:
    path = tmp_path / "big5-sop.txt"
    path.write_bytes(ZH_SOP.encode("big5"))
    code, summary = ingest_json(tmp_path / "home", path)
    assert code == 0 and summary["added"] == 1, summary
    result = shifu("query", "鎖模力 毛邊", "--home", str(tmp_path / "home"), "--json")
    assert result.exit_code == 0, result.output
    texts = " ".join(p["text"] for p in json.loads(result.stdout)["passages"])
    assert "禁止以提高鎖模力作為第一個對策" in texts


SHORT_LINES = 100_000
HANG_SECONDS = 10.0
CHILD = (
    "from service import cli, cli_common; from service.runtime import Runtime; "
    "from tests.fakes import FakeEncoder; encoder = FakeEncoder(); "
    "cli_common.make_runtime = lambda s: Runtime(s, lambda _: encoder); cli.app()"
)


def test_cli_ingest_of_many_short_lines_finishes(tmp_path: Path) -> None:
    path = tmp_path / "checklist.txt"
    path.write_bytes(b"ok\n" * SHORT_LINES)
    command = [sys.executable, "-c", CHILD, "ingest", str(path), "--home",
               str(tmp_path / "home"), "--json"]  # fmt: skip
    try:
        done = subprocess.run(command, cwd=REPO, capture_output=True, text=True,
                              timeout=HANG_SECONDS, check=False)  # fmt: skip
    except subprocess.TimeoutExpired:
        pytest.fail(f"`shifu ingest` of {SHORT_LINES} short lines ran over {HANG_SECONDS} s")
    assert done.returncode in (0, 1) and "Traceback" not in done.stderr, done.stderr


def test_after_the_cli_batch_the_corpus_is_whole(cli_home: CliHome) -> None:
    assert stored_documents(cli_home.home) == cli_home.documents
    for question, doc_id in KNOWN.items():
        result = shifu("query", question, "-k", "3", "--home", str(cli_home.home), "--json")
        assert result.exit_code == 0, result.output
        assert doc_id in doc_ids(json.loads(result.stdout)["passages"])
    assert not [p for p in tree(cli_home.home.parent) if "passwd" in p]
