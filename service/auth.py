"""API keys: stored as SHA-256 hashes, compared in constant time, each with a role and groups.

Keys are random 256-bit tokens, so a plain SHA-256 is a sound hash for them (a slow password
hash protects guessable secrets, which these are not). Keys come from `SHIFU_API_KEYS` (JSON)
and the keys file (YAML, default HOME/keys.yaml), which `shifu keys add` maintains.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from retriever.lazy import require

Role = Literal["reader", "editor", "admin"]
ROLES: tuple[Role, ...] = ("reader", "editor", "admin")
KEY_PREFIX = "shifu_"


class KeyFileError(ValueError):
    """The keys file cannot be read or holds an invalid entry."""


@dataclass(frozen=True)
class ApiKey:
    key_id: str
    sha256: str
    role: Role
    groups: tuple[str, ...] = ()


@dataclass(frozen=True)
class Principal:
    """Who is calling: the key's id (never the key), role and access groups."""

    key_id: str
    role: Role
    groups: tuple[str, ...]

    def may(self, role: Role) -> bool:
        return ROLES.index(self.role) >= ROLES.index(role)

    @property
    def sees_everything(self) -> bool:
        return self.role == "admin"


ANONYMOUS = Principal("anonymous", "admin", ())  # only when auth is switched off


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def authenticate(keys: list[ApiKey], presented: str) -> Principal | None:
    """Every stored hash is compared, in constant time, so timing reveals nothing."""
    digest = hash_key(presented)
    found = None
    for key in keys:
        if hmac.compare_digest(digest, key.sha256):
            found = key
    return Principal(found.key_id, found.role, found.groups) if found else None


def parse_keys(entries: Any, where: str) -> list[ApiKey]:
    if not isinstance(entries, list):
        raise KeyFileError(f"{where}: expected a list of keys")
    keys = [_entry(entry, where) for entry in entries]
    ids = [k.key_id for k in keys]
    if len(set(ids)) != len(ids):
        raise KeyFileError(f"{where}: key ids must be unique")
    return keys


def _entry(entry: Any, where: str) -> ApiKey:
    if not isinstance(entry, dict):
        raise KeyFileError(f"{where}: each key is a mapping with id, sha256, role, groups")
    key_id, digest, role = entry.get("id"), str(entry.get("sha256", "")), entry.get("role")
    groups = entry.get("groups") or []
    if not key_id or len(digest) != 64 or role not in ROLES or not isinstance(groups, list):
        raise KeyFileError(f"{where}: key {key_id!r} needs an id, a 64-hex sha256, a role in "
                           f"{ROLES} and a list of groups")  # fmt: skip
    return ApiKey(str(key_id), digest.lower(), role, tuple(sorted(str(g) for g in groups)))


def read_key_file(path: Path) -> list[ApiKey]:
    if not path.is_file():
        return []
    yaml = require("yaml", "pyyaml")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise KeyFileError(f"cannot read keys file {path}: {exc}") from exc
    return parse_keys(data.get("keys", []) if isinstance(data, dict) else data, str(path))


def write_key_file(path: Path, keys: list[ApiKey]) -> None:
    """Written whole to a temporary file, readable by the owner only, then renamed."""
    yaml = require("yaml", "pyyaml")
    entries = [{"id": k.key_id, "sha256": k.sha256, "role": k.role, "groups": list(k.groups)}
               for k in keys]  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(f".{path.name}.tmp")
    descriptor = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        yaml.safe_dump({"keys": entries}, handle, allow_unicode=True, sort_keys=False)
    os.replace(staging, path)


def add_key(path: Path, key_id: str, role: Role, groups: list[str]) -> str:
    """Create a key, store its hash, return the key itself (shown once, never stored)."""
    keys = read_key_file(path)
    if any(k.key_id == key_id for k in keys):
        raise KeyFileError(f"a key with id {key_id!r} already exists in {path}")
    key = new_key()
    keys.append(ApiKey(key_id, hash_key(key), role, tuple(sorted(set(groups)))))
    write_key_file(path, keys)
    return key
