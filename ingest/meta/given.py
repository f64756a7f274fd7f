"""Document metadata: YAML front matter, a `NAME.meta.yaml` sidecar, DOCX core properties.

Precedence: sidecar over what the file says (front matter or DOCX properties) over what is
derived from the file. Derived fields are listed in `DocMeta.defaulted`; nothing is invented
that the file does not show (a revision or effective date is never guessed).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from retriever.lazy import require
from retriever.records import DocMeta

_FRONT_MATTER = re.compile(r"\A\ufeff?---[ \t]*\n(.*?\n)?(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.DOTALL)
DOC_TYPE_PATTERN = r"^[a-z][a-z0-9_-]{0,31}$"
_DOC_TYPE = re.compile(DOC_TYPE_PATTERN)
AUTHORITIES = ("official", "expert")
DATE_FIELDS = ("effective_date", "date")
KNOWN_FIELDS = (*tuple(f.name for f in fields(DocMeta) if f.name != "defaulted"), "title")
MAX_VALUE_CHARS = 200


class MetaError(ValueError):
    """Metadata that cannot be used as given (bad YAML, a bad date, an unknown authority)."""


@dataclass(frozen=True)
class GivenMeta:
    """Metadata fields as given by the file and its sidecar, checked, with any warnings."""

    values: dict[str, Any]
    warnings: tuple[str, ...] = ()


def split_front_matter(text: str) -> tuple[dict[str, Any], str]:
    """(front matter, the text after it); text without front matter is returned unchanged."""
    match = _FRONT_MATTER.match(text)
    if not match:
        return {}, text
    return _yaml_mapping(match.group(1) or "", "front matter"), text[match.end() :]


SIDECAR_SUFFIX = ".meta.yaml"


def sidecar_path(path: Path) -> Path | None:
    """`report.pdf.meta.yaml`, else `report.meta.yaml`, beside the file."""
    for candidate in (path.with_name(f"{path.name}{SIDECAR_SUFFIX}"),
                      path.with_name(f"{path.stem}{SIDECAR_SUFFIX}")):  # fmt: skip
        if candidate.is_file():
            return candidate
    return None


def read_sidecar(path: Path) -> dict[str, Any]:
    sidecar = sidecar_path(path)
    if sidecar is None:
        return {}
    try:
        text = sidecar.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise MetaError(f"cannot read sidecar {sidecar.name}: {exc}") from exc
    return _yaml_mapping(text, f"sidecar {sidecar.name}")


def _yaml_mapping(text: str, where: str) -> dict[str, Any]:
    yaml = require("yaml", "pyyaml")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark is not None else ""
        raise MetaError(f"invalid YAML in {where}{at}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise MetaError(f"{where} must be a mapping of field: value")
    return data


def checked(*layers: Mapping[str, Any]) -> GivenMeta:
    """Merge layers (later ones win) and check every value."""
    merged: dict[str, Any] = {}
    for layer in layers:
        merged.update(layer)
    values: dict[str, Any] = {}
    warnings = []
    for key, value in merged.items():
        name = str(key).strip().lower()
        if name not in KNOWN_FIELDS:
            warnings.append(f"unknown metadata field {name!r} ignored")
            continue
        if value is None or value == "" or value == []:
            continue
        values[name] = _value(name, value)
    return GivenMeta(values, tuple(warnings))


def _value(name: str, value: Any) -> Any:
    if name == "access":
        groups = value.split(",") if isinstance(value, str) else value
        if not isinstance(groups, list) or not all(isinstance(g, str | int) for g in groups):
            raise MetaError("access must be a list of group names")
        return tuple(sorted({str(g).strip() for g in groups if str(g).strip()}))
    if name in DATE_FIELDS:
        return _iso_date(name, value)
    if isinstance(value, dict | list):
        raise MetaError(f"{name} must be a single value, not a {type(value).__name__}")
    text = str(value).strip()[:MAX_VALUE_CHARS]
    if name == "authority" and text.lower() not in AUTHORITIES:
        raise MetaError(f"authority must be one of {', '.join(AUTHORITIES)}, not {text!r}")
    if name in ("authority", "doc_type"):
        text = text.lower()
    if name == "doc_type" and not _DOC_TYPE.match(text):
        raise MetaError(f"doc_type must be one lower-case word such as sop, not {text!r}")
    return text


def _iso_date(name: str, value: Any) -> str:
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    try:
        return dt.date.fromisoformat(str(value).strip()).isoformat()
    except ValueError as exc:
        raise MetaError(f"{name} must be a date YYYY-MM-DD, not {value!r}") from exc
