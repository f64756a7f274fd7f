"""Short-lived links to an original file: a browser opens a citation's document (at its PDF
page) without sending the API key, so the link itself carries a signed, expiring grant for one
stored file. The signing secret lives in HOME/link-secret (owner-only) and never leaves it."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import secrets
import time
from pathlib import Path, PurePosixPath
from urllib.parse import quote

from retriever.records import Passage

LINK_SECONDS = 600
# originals served as text, where a browser finds the passage by a text fragment
TEXT_SUFFIXES = (".md", ".markdown", ".txt", ".vtt", ".srt")
SPEAKER = re.compile(r"^[^\s：:]{1,24}[：:]\s*")  # "王師傅：" or "A: " before a turn


class LinkError(ValueError):
    """A link that is malformed, forged or expired."""


def _secret(home: Path) -> bytes:
    path = home / "link-secret"
    if not path.is_file():
        home.mkdir(parents=True, exist_ok=True)
        staging = path.with_name(f".link-secret.tmp-{os.getpid()}")
        descriptor = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(secrets.token_hex(32))
        os.replace(staging, path)
    return path.read_text().strip().encode()


def sign(home: Path, doc_key: str, now: float | None = None) -> tuple[str, float]:
    expires = (now or time.time()) + LINK_SECONDS
    payload = _b64(json.dumps({"k": doc_key, "e": round(expires)}).encode())
    return f"{payload}.{_mac(home, payload)}", expires


def verify(home: Path, token: str, now: float | None = None) -> str:
    """The document key the token grants, or LinkError."""
    payload, _, mac = token.partition(".")
    if not payload or not hmac.compare_digest(mac, _mac(home, payload)):
        raise LinkError("this link is not valid")
    try:
        grant = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        key, expires = str(grant["k"]), float(grant["e"])
    except (ValueError, KeyError, TypeError) as exc:
        raise LinkError("this link is not valid") from exc
    if (now or time.time()) > expires:
        raise LinkError("this link has expired; open the citation again")
    return key


def _mac(home: Path, payload: str) -> str:
    digest = hmac.new(_secret(home), payload.encode(), hashlib.sha256).digest()
    return _b64(digest)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def fragment(passage: Passage) -> str:
    """Where in the original a link opens: a PDF at the cited page, a text or transcript at
    its best sentence (a text fragment, as the search page builds it)."""
    citation = passage.citation
    if citation.page:
        return f"#page={citation.page}"
    if PurePosixPath(citation.source).suffix.lower() not in TEXT_SUFFIXES:
        return ""
    start, end = passage.highlight or (0, len(passage.text))
    lines = (line.strip().lstrip("#").strip() for line in passage.text[start:end].splitlines())
    first = next((line for line in lines if line), "")
    if citation.speaker or citation.doc_type == "interview":
        first = SPEAKER.sub("", first)  # the turn's words, without "王師傅："
    return f"#:~:text={quote(first[:80], safe='')}".replace("-", "%2D") if first else ""
