"""`shifu keys`: API keys in the keys file (hashes only; a new key is printed once)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from service.audit import AUDIT_DB, Actor, AuditLog, Event
from service.auth import ROLES, Role, add_key, read_key_file, write_key_file
from service.cli_common import HomeOption, make_settings
from service.cli_errors import fail_cleanly

keys_app = typer.Typer(help="Manage API keys (stored hashed in HOME/keys.yaml).",
                       no_args_is_help=True)  # fmt: skip


def _path(home: Path | None) -> Path:
    return make_settings(home).key_path


@keys_app.command("add")
def add(
    key_id: Annotated[str, typer.Argument(help="a name for the key, e.g. line3-tablet")],
    role: Annotated[str, typer.Option(help="reader, editor or admin")] = "reader",
    group: Annotated[
        list[str] | None, typer.Option("--group", help="access group (repeat)")
    ] = None,
    home: HomeOption = None,
) -> None:
    """Create a key and print it once; only its hash is kept."""
    if role not in ROLES:
        raise typer.BadParameter(f"role must be one of {', '.join(ROLES)}")
    checked_role: Role = role  # type: ignore[assignment]
    with fail_cleanly():
        key = add_key(_path(home), key_id, checked_role, group or [])
    _audit(home, "key_add", key_id, f"role {role}; groups {','.join(group or []) or '-'}")
    typer.echo(key)
    typer.echo(f"key {key_id!r} ({role}) added; it is shown only now", err=True)


@keys_app.command("list")
def list_keys(home: HomeOption = None) -> None:
    """Key ids, roles and groups (never the keys)."""
    for key in read_key_file(_path(home)):
        typer.echo(f"{key.key_id}\t{key.role}\t{','.join(key.groups)}")


@keys_app.command("remove")
def remove(key_id: Annotated[str, typer.Argument()], home: HomeOption = None) -> None:
    """Revoke a key."""
    path = _path(home)
    keys = read_key_file(path)
    kept = [k for k in keys if k.key_id != key_id]
    if len(kept) == len(keys):
        typer.echo(f"error: no key {key_id!r}", err=True)
        raise typer.Exit(2)
    write_key_file(path, kept)
    _audit(home, "key_remove", key_id, None)


def _audit(home: Path | None, action: str, key_id: str, detail: str | None) -> None:
    """Key changes go in the home's audit log (the key's id, never the key)."""
    log = AuditLog(make_settings(home).home / AUDIT_DB)
    try:
        log.record([Event.by(Actor.local(), action, target=key_id, detail=detail)])
    finally:
        log.close()
