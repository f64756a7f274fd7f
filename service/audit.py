"""Who changed what: an append-only audit log in HOME/audit.sqlite.

One row per change: uploads and updates of documents (over HTTP, by `shifu ingest`, by a
watched folder), deletions, API keys added and removed, feedback, glossary terms added. A row
names the actor (a key id, `cli:USER` or `watch`), the channel, the document and revision or
the target, the time and the result. Never a key itself, a question or a document's text.
Triggers refuse UPDATE and DELETE, so the log only grows; WAL lets the server and the command
line append at once."""

from __future__ import annotations

import getpass
import sqlite3
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

AUDIT_DB = "audit.sqlite"  # in the home
Action = Literal["upload", "update", "delete", "key_add", "key_remove", "feedback",
                 "glossary_add"]  # fmt: skip
SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT, at REAL NOT NULL, actor TEXT NOT NULL,
    channel TEXT NOT NULL, action TEXT NOT NULL, doc_id TEXT, revision TEXT, target TEXT,
    result TEXT NOT NULL, detail TEXT
);
CREATE INDEX IF NOT EXISTS events_doc ON events (doc_id);
CREATE TRIGGER IF NOT EXISTS events_no_update BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS events_no_delete BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
"""
COLUMNS = ("at", "actor", "channel", "action", "doc_id", "revision", "target", "result", "detail")
FILTERS = ("actor", "action", "doc_id", "channel")
# what an ingest's per-file status means as a change: (action, result)
INGEST_ACTIONS = {"added": ("upload", "ok"), "updated": ("update", "ok"),
                  "unchanged": ("upload", "unchanged"), "failed": ("upload", "failed"),
                  "skipped": ("upload", "skipped"), "removed": ("delete", "ok")}  # fmt: skip


@dataclass(frozen=True)
class Actor:
    who: str  # a key id, cli:USER or watch
    via: str  # http, mcp, cli or watch

    @staticmethod
    def local() -> Actor:
        """Whoever runs a command on this machine (the Python API's default)."""
        try:
            user = getpass.getuser()
        except (KeyError, OSError):  # no user name in a bare container
            user = "unknown"
        return Actor(f"cli:{user}", "cli")


@dataclass(frozen=True)
class Event:
    actor: str
    channel: str
    action: str
    result: str
    doc_id: str | None = None
    revision: str | None = None
    target: str | None = None  # a file name, a key id, a passage id
    detail: str | None = None  # a failure's reason, a verdict
    at: float = field(default_factory=time.time)
    id: int = 0

    @staticmethod
    def by(actor: Actor, action: str, result: str = "ok", **fields: str | None) -> Event:
        return Event(actor.who, actor.via, action, result, **fields)  # type: ignore[arg-type]


def ingest_events(actor: Actor, files: Iterable[Mapping[str, str]]) -> list[Event]:
    """One event per file an ingest touched, from its summary's rows."""
    events = []
    for row in files:
        action, result = INGEST_ACTIONS.get(row["status"], ("upload", row["status"]))
        events.append(Event.by(actor, action, result, doc_id=row.get("doc_id"),
                               revision=row.get("revision") or None,
                               target=Path(row["path"]).name,
                               detail=row.get("reason")))  # fmt: skip
    return events


class AuditLog:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(path, check_same_thread=False, timeout=30)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.executescript(SCHEMA)
        self._lock = threading.Lock()

    def record(self, events: Iterable[Event]) -> None:
        rows = [tuple(getattr(e, name) for name in COLUMNS) for e in events]
        if not rows:
            return
        with self._lock, self._conn:
            self._conn.executemany(
                f"INSERT INTO events ({', '.join(COLUMNS)}) VALUES "
                f"({', '.join('?' for _ in COLUMNS)})",
                rows,
            )

    def events(
        self, filters: Mapping[str, str], since: float | None, page: tuple[int, int]
    ) -> tuple[int, list[Event]]:
        """(matching count, one page of them, newest first); `page` is (offset, limit)."""
        clauses = [f"{name} = ?" for name in FILTERS if filters.get(name)]
        values: list[object] = [filters[name] for name in FILTERS if filters.get(name)]
        if since is not None:
            clauses.append("at >= ?")
            values.append(since)
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        with self._lock:
            (total,) = self._conn.execute(f"SELECT count(*) FROM events{where}", values).fetchone()
            rows = self._conn.execute(
                f"SELECT {', '.join(COLUMNS)}, id FROM events{where} ORDER BY id DESC "
                "LIMIT ? OFFSET ?", [*values, page[1], page[0]],
            ).fetchall()  # fmt: skip
        return int(total), [Event(**dict(zip((*COLUMNS, "id"), row, strict=True)))
                            for row in rows]  # fmt: skip

    def close(self) -> None:
        self._conn.close()
