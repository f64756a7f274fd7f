"""The audit log: who uploaded, updated, deleted, changed keys or gave feedback, read by an
admin over HTTP and with `shifu audit`; append-only, and never a key or a document's text."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from service import cli
from service.audit import AUDIT_DB
from tests.conftest import bearer
from tests.test_service import upload

SECRET_TEXT = b"1. Torque the flange bolts to 45 Nm in a star pattern.\n"
runner = CliRunner()


def _events(client: TestClient, admin: str, **query: str) -> list[dict[str, object]]:
    response = client.get("/v1/audit", params=query, headers=bearer(admin))
    assert response.status_code == 200, response.text
    events: list[dict[str, object]] = response.json()["events"]
    return events


def test_changes_are_recorded_with_who_what_and_result(
    client: TestClient, api_keys: dict[str, str], tmp_path: Path
) -> None:
    editor, admin = api_keys["editor"], api_keys["admin"]
    meta = '{"doc_id": "SOP-AU-001", "revision": "A"}'
    assert upload(client, editor, ("flange.md", SECRET_TEXT), metadata=meta).status_code == 200
    changed = SECRET_TEXT + b"2. Check with a torque wrench.\n"
    meta_b = '{"doc_id": "SOP-AU-001", "revision": "A"}'
    assert upload(client, editor, ("flange.md", changed), metadata=meta_b).status_code == 200
    assert upload(client, editor, ("virus.exe", b"MZ")).status_code == 422
    passage = client.post("/v1/query", json={"question": "flange bolts torque", "mode": "bm25"})
    chunk_id = passage.json()["passages"][0]["chunk_id"]
    verdict = {"question": "flange torque?", "chunk_id": chunk_id, "verdict": "helped"}
    assert client.post("/v1/feedback", json=verdict).status_code == 201
    assert client.delete("/v1/documents/SOP-AU-001", headers=bearer(editor)).status_code == 200
    home = str(tmp_path / "home")
    assert runner.invoke(cli.app, ["keys", "add", "tablet-3", "--home", home]).exit_code == 0
    assert runner.invoke(cli.app, ["keys", "remove", "tablet-3", "--home", home]).exit_code == 0

    events = _events(client, admin)
    seen = [(str(e["actor"]).split(":")[0], e["action"], e["result"], e["doc_id"], e["target"])
            for e in events]  # fmt: skip
    assert seen[:7] == [
        ("cli", "key_remove", "ok", None, "tablet-3"),
        ("cli", "key_add", "ok", None, "tablet-3"),
        ("editor", "delete", "ok", "SOP-AU-001", "flange.md"),
        ("reader", "feedback", "ok", "SOP-AU-001", f"passage {chunk_id}"),
        ("editor", "upload", "skipped", None, "virus.exe"),
        ("editor", "update", "ok", "SOP-AU-001", "flange.md"),
        ("editor", "upload", "ok", "SOP-AU-001", "flange.md"),
    ]
    assert str(events[0]["actor"]).startswith("cli:") and events[0]["channel"] == "cli"
    assert events[5]["revision"] == "A" and events[2]["channel"] == "http"
    assert [e["action"] for e in _events(client, admin, action="delete")] == ["delete"]
    assert len(_events(client, admin, doc_id="SOP-AU-001")) == 4  # with the feedback
    paged = client.get("/v1/audit", params={"per_page": 2, "page": 2}, headers=bearer(admin))
    assert paged.json()["total"] == len(events) and len(paged.json()["events"]) == 2
    assert client.get("/v1/audit").status_code == 403  # a reader's key

    stored = (tmp_path / "home" / AUDIT_DB).read_bytes()
    for secret in (editor.encode(), b"Torque the flange", b"flange torque?"):
        assert secret not in stored  # no key, no document text, no question

    listed = runner.invoke(cli.app, ["audit", "--home", home, "--action", "update"])
    assert listed.exit_code == 0 and "SOP-AU-001 rev A flange.md" in listed.stdout


def test_the_log_is_append_only(
    client: TestClient, api_keys: dict[str, str], tmp_path: Path
) -> None:
    assert upload(client, api_keys["editor"], ("note.md", b"1. Note.\n")).status_code == 200
    with sqlite3.connect(tmp_path / "home" / AUDIT_DB) as conn:
        for statement in ("UPDATE events SET actor = 'someone else'", "DELETE FROM events"):
            with pytest.raises(sqlite3.DatabaseError, match="append-only"):
                conn.execute(statement)
