"""A watched SOP share: what changes under the watched folders is ingested incrementally.

Events (watchfiles) or a polling interval only say *when* to look; a scan of sizes and
modification times says *what* changed, so a missed event costs latency, never a document.
A file is ingested once it has been quiet for the debounce time (an editor's burst of saves is
one ingest, a copy still in progress waits); a deleted file goes after the same quiet, but the
files of a folder that vanished (or a share that came back empty) only after a grace period.
Ingests go through `Runtime.ingest`, so they take the writer lock as every other writer does.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ingest.loaders.files import SIDECAR_SUFFIX, SourceFile, kind_of, walk
from ingest.summary import IngestSummary
from retriever.store.errors import WriterBusyError
from service.audit import Actor
from service.runtime import Runtime
from service.settings import Settings

logger = logging.getLogger("shifu.watch")
Signature = tuple[int, int]  # size and modification time (ns): what "changed" means here
WATCHER = Actor("watch", "watch")  # who the audit log names for a watched folder's changes
TICK_SECONDS = 0.25  # how often pending changes are looked at between events


@dataclass(frozen=True)
class WatchConfig:
    debounce: float = 2.0  # quiet seconds before a changed file is ingested
    poll: float = 0.0  # seconds between scans where events do not arrive (a share); 0: events
    grace: float = 300.0  # a vanished folder's (or emptied share's) documents stay this long
    rescan: float = 60.0  # a full scan this often, even with events


    @staticmethod
    def of(settings: Settings, **given: float | None) -> WatchConfig:
        """The settings (SHIFU_WATCH_*), with the options a command was given."""
        values = {"debounce": settings.watch_debounce, "poll": settings.watch_poll,
                  "grace": settings.watch_grace, "rescan": settings.watch_rescan}  # fmt: skip
        values.update({name: value for name, value in given.items() if value is not None})
        return WatchConfig(**values)


@dataclass(frozen=True)
class _Change:
    signature: Signature | None  # None: the file is gone
    at: float  # monotonic time it was last seen changing


@dataclass
class _Counts:
    ingests: int = 0
    last_scan: float | None = None  # epoch seconds, for people
    last_ingest: float | None = None
    last_error: str | None = None
    failed: dict[str, str] = field(default_factory=dict)  # path -> why its last ingest failed


class FolderWatcher:
    def __init__(
        self, runtime: Runtime, roots: Iterable[Path], config: WatchConfig,
        clock: Callable[[], float] = time.monotonic, metrics: Any = None,
    ) -> None:  # fmt: skip
        self.runtime, self.config, self.clock, self.metrics = runtime, config, clock, metrics
        self.roots = [root.expanduser().resolve() for root in roots]
        self._known: dict[Path, Signature] = {}
        self._pending: dict[Path, _Change] = {}
        self._counts = _Counts()
        self._scanned_at = float("-inf")
        self._retry_at = float("-inf")
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # ---- the loop ---------------------------------------------------------------------------

    def start(self) -> FolderWatcher:
        self._thread = threading.Thread(target=self.run, name="shifu-watch", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def run(self) -> None:
        """Until stopped: events while every root is there, else scans at the poll interval
        (or each tick, to notice a root coming back)."""
        self._safe_tick(changed=True)
        while not self._stop.is_set():
            if self.config.poll <= 0 and all(root.is_dir() for root in self.roots):
                self._follow_events()
            else:
                self._stop.wait(self.config.poll or TICK_SECONDS)
                self._safe_tick(changed=True)

    def _safe_tick(self, changed: bool) -> None:
        """A share that fails mid-scan (a folder removed while listed, a permission) is
        reported and scanned again; the watcher itself never stops on it."""
        try:
            self.tick(changed)
        except Exception as exc:
            logger.error("watch: scan failed: %s", exc)
            with self._lock:
                self._counts.last_error = f"scan failed: {exc}"

    def _follow_events(self) -> None:
        import watchfiles

        try:
            for changes in watchfiles.watch(
                *self.roots, debounce=50, step=20, stop_event=self._stop, yield_on_timeout=True,
                rust_timeout=int(TICK_SECONDS * 1000), raise_interrupt=False,
                ignore_permission_denied=True,
            ):  # fmt: skip
                self._safe_tick(changed=bool(changes))
                if not all(root.is_dir() for root in self.roots):
                    return  # a root vanished: scan until it is back
        except (OSError, RuntimeError) as exc:  # the watch itself failed: fall back to scans
            logger.warning("watch events stopped (%s); scanning instead", exc)
            self._stop.wait(TICK_SECONDS)

    # ---- one step: scan, then ingest what is due ----------------------------------------------

    def tick(self, changed: bool) -> IngestSummary | None:
        now = self.clock()
        if changed or now - self._scanned_at >= self.config.rescan:
            self._rescan(now)
        if now < self._retry_at:
            return None
        files, gone = self._due(now)
        return self._ingest(files, gone) if files or gone else None

    def _rescan(self, now: float) -> None:
        current = dict(self._scan())
        with self._lock:
            for path, signature in current.items():
                if self._known.get(path) != signature:
                    self._pending[path] = _Change(signature, now)
            for path in self._known.keys() - current.keys():
                self._pending[path] = _Change(None, now)
            self._known = current
            self._scanned_at, self._counts.last_scan = now, time.time()
        self._gauge()

    def _scan(self) -> Iterable[tuple[Path, Signature]]:
        for root in self.roots:
            if not root.is_dir():
                continue
            for path in walk(root):
                if kind_of(path) is None and not path.name.endswith(SIDECAR_SUFFIX):
                    continue
                try:
                    stat = path.stat()
                except OSError:
                    continue  # gone between the listing and the stat: the next scan sees it
                yield path, (stat.st_size, stat.st_mtime_ns)

    def _due(self, now: float) -> tuple[dict[Path, _Change], dict[Path, _Change]]:
        """The changed files quiet for the debounce time, and the deletions due: after the
        debounce where the file's folder is still there, after the grace period otherwise."""
        files: dict[Path, _Change] = {}
        gone: dict[Path, _Change] = {}
        with self._lock:
            for path, change in self._pending.items():
                quiet = now - change.at
                if change.signature is not None and quiet >= self.config.debounce:
                    files[path] = change
                elif change.signature is None and quiet >= self._wait_for_gone(path):
                    gone[path] = change
        return files, gone

    def _wait_for_gone(self, path: Path) -> float:
        root = self._root_of(path)
        present = path.parent.is_dir() and root is not None and _has_entries(root)
        return self.config.debounce if present else self.config.grace

    def _root_of(self, path: Path) -> Path | None:
        for root in self.roots:
            if path.is_relative_to(root):
                return root
        return None

    def _ingest(
        self, files: dict[Path, _Change], gone: dict[Path, _Change]
    ) -> IngestSummary | None:
        """One ingest of every due change: a sidecar's change is its document's; a file that
        has meanwhile vanished waits for the next scan to say so."""
        touched = sorted({_document_of(path) for path in [*files, *gone]})
        sources = [SourceFile(path, root) for path in touched
                   if path.is_file() and kind_of(path) is not None
                   and (root := self._root_of(path)) is not None]  # fmt: skip
        deleted = {main for main in map(_document_of, gone)
                   if not main.exists() and kind_of(main) is not None}  # fmt: skip
        try:
            summary = self.runtime.ingest(sources, prune=False, progress=None, gone=deleted,
                                          actor=WATCHER)  # fmt: skip
        except WriterBusyError:
            self._retry_at = self.clock() + self.config.debounce  # another writer: try again
            logger.info("watch: another ingest is writing; retrying")
            return None
        except Exception as exc:  # reported, and retried when the files change again
            logger.error("watch: ingest failed: %s", exc)
            self._settle({**files, **gone}, error=str(exc))
            return None
        self._settle({**files, **gone}, summary=summary)
        return summary

    def _settle(
        self, done: dict[Path, _Change], summary: IngestSummary | None = None,
        error: str | None = None,
    ) -> None:  # fmt: skip
        """Pending changes are cleared unless the file changed again meanwhile."""
        with self._lock:
            for path, change in done.items():
                if self._pending.get(path) == change:
                    del self._pending[path]
            counts = self._counts
            counts.last_error = error
            if summary is not None:
                failed = {row["path"]: row["reason"] for row in summary.failures}
                for path in [*done, *(_document_of(p) for p in done)]:
                    counts.failed.pop(str(path), None)
                counts.failed.update(failed)
                counts.ingests += 1
                counts.last_ingest = time.time()
        self._log(summary, error)
        self._gauge()

    def _log(self, summary: IngestSummary | None, error: str | None) -> None:
        if summary is None:
            if self.metrics is not None:
                self.metrics.watch_ingests.labels("error").inc()
            return
        if self.metrics is not None:
            self.metrics.watch_ingests.labels("failed" if summary.failed else "ok").inc()
        logger.info("watch: added %d, updated %d, removed %d, unchanged %d, failed %d -> "
                    "generation %s in %.1f s", summary.added, summary.updated, summary.removed,
                    summary.unchanged, summary.failed, summary.generation, summary.seconds)
        for failure in summary.failures:
            logger.warning("watch: %s failed: %s", failure["path"], failure["reason"])

    def _gauge(self) -> None:
        if self.metrics is not None:
            self.metrics.watch_pending.set(len(self._pending))

    # ---- what /v1/health shows ---------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        with self._lock:
            counts = self._counts
            return {
                "paths": [str(root) for root in self.roots],
                "unavailable": [str(root) for root in self.roots if not root.is_dir()],
                "last_scan": counts.last_scan, "pending": len(self._pending),
                "files": len(self._known), "ingests": counts.ingests,
                "last_ingest": counts.last_ingest, "last_error": counts.last_error,
                "failed": [{"path": p, "reason": r} for p, r in sorted(counts.failed.items())],
            }  # fmt: skip


def _document_of(path: Path) -> Path:
    """A sidecar's change is its document's change."""
    name = path.name
    return path.with_name(name[: -len(SIDECAR_SUFFIX)]) if name.endswith(SIDECAR_SUFFIX) else path


def _has_entries(folder: Path) -> bool:
    """False for an empty folder and for one that cannot be listed (an unmounted share)."""
    try:
        return any(folder.iterdir())
    except OSError:
        return False
