"""Schemathesis hooks for tests/test_contract.py (loaded by the `st run` it starts).

An upload is refused with 422 when none of its files can be read (an .exe, a corrupt PDF):
that depends on the files' bytes and names, which no schema can state, so the document says
so for 422 on POST /v1/documents, schemathesis.toml lets that 422 through its
"schema-valid data is accepted" check, and this check keeps the rest of that check's teeth:
a schema-valid upload refused for any other reason (its metadata, its count) still fails."""

from __future__ import annotations

from typing import Any

import schemathesis

UPLOAD = ("POST", "/v1/documents")
PER_FILE = {"skipped", "failed"}


@schemathesis.check
def upload_refused_only_for_its_files(ctx: Any, response: Any, case: Any) -> bool | None:
    if (case.method.upper(), case.path) != UPLOAD or response.status_code != 422:
        return None
    if case.meta is None or not case.meta.generation.mode.is_positive:
        return None
    body = response.json()
    files = body.get("files") if isinstance(body, dict) else None
    if not files or any(row.get("status") not in PER_FILE for row in files):
        raise AssertionError(f"a schema-valid upload was refused as a request: {body}")
    return None
