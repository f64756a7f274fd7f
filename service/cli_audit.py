"""`shifu audit`: the home's audit log (who changed what), newest first."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict
from typing import Annotated, get_args

import typer

from service.audit import AUDIT_DB, Action, AuditLog
from service.cli_common import HomeOption, JsonOption, make_settings


def audit_cmd(
    home: HomeOption = None,
    actor: Annotated[str | None, typer.Option(help="a key id, cli:USER or watch")] = None,
    action: Annotated[str | None, typer.Option(help=", ".join(get_args(Action)))] = None,
    doc_id: Annotated[str | None, typer.Option("--doc-id", help="one document's events")] = None,
    since: Annotated[
        str | None, typer.Option(help="from this date or time on (YYYY-MM-DD[THH:MM])")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, help="at most this many events")] = 50,
    as_json: JsonOption = False,
) -> None:
    """Uploads, updates, deletions, key changes and feedback: who, what, when, the result."""
    if action is not None and action not in get_args(Action):
        raise typer.BadParameter(f"action must be one of {', '.join(get_args(Action))}")
    path = make_settings(home).home / AUDIT_DB
    if not path.is_file():
        typer.echo("no audit events in this home yet", err=True)
        return
    log = AuditLog(path)
    try:
        filters = {"actor": actor or "", "action": action or "", "doc_id": doc_id or ""}
        total, events = log.events(filters, _epoch(since), (0, limit))
    finally:
        log.close()
    for event in events:
        if as_json:
            typer.echo(json.dumps(asdict(event), ensure_ascii=False))
            continue
        when = dt.datetime.fromtimestamp(event.at).isoformat(sep=" ", timespec="seconds")
        what = " ".join(p for p in (event.doc_id, event.revision and f"rev {event.revision}",
                                    event.target) if p)  # fmt: skip
        typer.echo("\t".join((when, event.actor, event.channel, event.action, event.result,
                              what, event.detail or "")))  # fmt: skip
    typer.echo(f"{len(events)} of {total} events", err=True)


def _epoch(since: str | None) -> float | None:
    if since is None:
        return None
    try:
        return dt.datetime.fromisoformat(since).timestamp()
    except ValueError as exc:
        raise typer.BadParameter(f"--since must be YYYY-MM-DD or YYYY-MM-DDTHH:MM, not {since!r}"
                                 ) from exc  # fmt: skip
