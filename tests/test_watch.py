"""The watched folder: created, edited, renamed and deleted files become searchable (or gone)
within debounce + ingest time while queries run; a burst of saves is a few ingests; a copy in
progress waits; a failed file is reported and retried when it changes; a vanished folder
removes nothing within the grace period."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from service.runtime import Runtime
from service.settings import Settings
from service.watcher import FolderWatcher, WatchConfig
from tests.conftest import REPO
from tests.fakes import FakeEncoder
from tests.serving import wait_until

FAST = WatchConfig(debounce=0.3, grace=30.0, rescan=5.0)
BOUND = 60.0  # seconds any one change may take to show on a busy machine


def make_runtime(home: Path) -> Runtime:
    encoder = FakeEncoder()
    return Runtime(Settings(home=home, auth=False), encoder_factory=lambda _: encoder)


@pytest.fixture
def share(tmp_path: Path) -> Path:
    """The sample SOPs in text form (no scans to OCR: these tests are about changes)."""
    folder = tmp_path / "share"
    shutil.copytree(REPO / "corpus" / "sop", folder / "sop",
                    ignore=shutil.ignore_patterns("*.pdf*", "*.docx*", "*.xlsx"))  # fmt: skip
    return folder


@pytest.fixture
def runtime(tmp_path: Path) -> Runtime:
    return make_runtime(tmp_path / "home")


def watching(runtime: Runtime, share: Path, config: WatchConfig = FAST) -> FolderWatcher:
    watcher = FolderWatcher(runtime, [share], config).start()
    wait_until(lambda: runtime.store.manifest() is not None, "the first scan ingested nothing",
               BOUND)  # fmt: skip
    wait_until(lambda: watcher.status()["pending"] == 0, "the first ingest did not settle", BOUND)
    return watcher


def sources(runtime: Runtime, question: str) -> set[str]:
    return {p.citation.source for p in runtime.query(question, 10, mode="bm25").passages}


@pytest.fixture
def querying(runtime: Runtime) -> Iterator[list[BaseException]]:
    """Queries running the whole time; whatever they raise is collected."""
    errors: list[BaseException] = []
    stop = threading.Event()

    def ask() -> None:
        while not stop.is_set():
            try:
                if runtime.store.manifest() is not None:
                    runtime.query("lockout padlock", 5, mode="bm25")
            except BaseException as exc:  # every failure is the finding
                errors.append(exc)
            time.sleep(0.01)

    thread = threading.Thread(target=ask, daemon=True)
    thread.start()
    yield errors
    stop.set()
    thread.join(10)


def test_each_change_is_searchable_or_gone_while_queries_run(
    runtime: Runtime, share: Path, querying: list[BaseException]
) -> None:
    watcher = watching(runtime, share)
    try:
        note = share / "notes" / "dryer.md"
        note.parent.mkdir()
        note.write_text("# Dryer\n\nHopper dryer zebrafinch at 80 °C.\n", encoding="utf-8")
        wait_until(lambda: "notes/dryer.md" in sources(runtime, "zebrafinch"), "create", BOUND)
        note.write_text("# Dryer\n\nHopper dryer kingfisher at 90 °C.\n", encoding="utf-8")
        wait_until(lambda: "notes/dryer.md" in sources(runtime, "kingfisher"), "edit", BOUND)
        assert not sources(runtime, "zebrafinch")
        note.rename(share / "notes" / "hopper.md")
        wait_until(lambda: sources(runtime, "kingfisher") == {"notes/hopper.md"}, "rename",
                   BOUND)  # fmt: skip
        (share / "notes" / "hopper.md").unlink()
        wait_until(lambda: not sources(runtime, "kingfisher"), "delete", BOUND)
        assert "sop/SOP-MT-001_lockout-tagout.md" in sources(runtime, "lockout padlock")
    finally:
        watcher.stop()
    assert querying == []


def test_a_burst_of_fifty_saves_is_a_few_ingests(runtime: Runtime, share: Path) -> None:
    watcher = watching(runtime, share, WatchConfig(debounce=1.0, grace=30.0))
    try:
        before = watcher.status()["ingests"]
        draft = share / "draft.md"
        for save in range(50):
            draft.write_text(f"# Draft\n\nRevision {save} of the heronwing note.\n")
            time.sleep(0.02)
        wait_until(lambda: "Revision 49" in _texts(runtime, "heronwing"), "last save", BOUND)
        wait_until(lambda: watcher.status()["pending"] == 0, "settle", BOUND)
        assert watcher.status()["ingests"] - before <= 3
    finally:
        watcher.stop()


def _texts(runtime: Runtime, question: str) -> str:
    return " ".join(p.text for p in runtime.query(question, 5, mode="bm25").passages)


def test_a_copy_in_progress_waits_and_a_failed_file_is_retried_when_it_changes(
    runtime: Runtime, share: Path
) -> None:
    watcher = watching(runtime, share, WatchConfig(debounce=0.6, grace=30.0))
    try:
        copy = share / "big.md"
        with copy.open("w", encoding="utf-8") as handle:  # written over ~1.5 s, never quiet
            for part in range(15):
                handle.write(f"Part {part} of the ospreynest procedure.\n\n")
                handle.flush()
                assert "big.md" not in sources(runtime, "ospreynest"), f"ingested at {part}"
                time.sleep(0.1)
        wait_until(lambda: "Part 14" in _texts(runtime, "ospreynest"), "the finished copy", BOUND)
        broken = share / "broken.docx"
        broken.write_bytes(b"PK\x03\x04 not really a docx")
        wait_until(lambda: watcher.status()["failed"], "the failure is reported", BOUND)
        assert watcher.status()["failed"][0]["path"].endswith("broken.docx")
        broken.unlink()
        (share / "broken.md").write_text("Fixed: the pelicanbay note.\n")
        wait_until(lambda: "broken.md" in sources(runtime, "pelicanbay"), "retried", BOUND)
        wait_until(lambda: not watcher.status()["failed"], "the failure is cleared", BOUND)
    finally:
        watcher.stop()


def test_a_vanished_folder_removes_nothing_within_the_grace_period(
    runtime: Runtime, share: Path, tmp_path: Path
) -> None:
    watcher = watching(runtime, share, WatchConfig(debounce=0.2, grace=4.0, rescan=1.0))
    try:
        generation = runtime.store.manifest().generation  # type: ignore[union-attr]
        aside = shutil.move(str(share / "sop"), tmp_path / "aside")  # the share drops a folder
        wait_until(lambda: watcher.status()["pending"] > 0, "the scan saw nothing go", BOUND)
        time.sleep(1.0)  # several debounce periods: a deleted file would be gone by now
        assert "sop/SOP-MT-001_lockout-tagout.md" in sources(runtime, "lockout padlock")
        shutil.move(aside, share / "sop")  # back within the grace period
        wait_until(lambda: watcher.status()["pending"] == 0, "back", BOUND)
        assert runtime.store.manifest().generation == generation  # type: ignore[union-attr]
        shutil.move(str(share / "sop"), tmp_path / "gone")  # and now for good
        wait_until(lambda: not sources(runtime, "lockout padlock"), "after the grace", BOUND)
    finally:
        watcher.stop()


def test_the_watch_status_is_in_health_and_metrics(runtime: Runtime, share: Path) -> None:
    encoder = FakeEncoder()
    app = create_app(Settings(home=runtime.settings.home, auth=False),
                     encoder_factory=lambda _: encoder)  # fmt: skip
    watcher = FolderWatcher(app.state.runtime, [share], FAST, metrics=app.state.metrics)
    app.state.watcher = watcher.start()
    try:
        client = TestClient(app)
        wait_until(lambda: client.get("/v1/health").json()["watch"]["ingests"] >= 1, "ingest",
                   BOUND)  # fmt: skip
        watch = client.get("/v1/health").json()["watch"]
        assert watch["paths"] == [str(share.resolve())] and watch["files"] >= 5
        assert watch["pending"] == 0 and watch["last_scan"] and watch["failed"] == []
        metrics = client.get("/metrics").text
        assert 'shifu_watch_ingests_total{outcome="ok"}' in metrics
        assert "shifu_watch_pending 0.0" in metrics
    finally:
        watcher.stop()


def test_polling_finds_changes_where_events_do_not_arrive(runtime: Runtime, share: Path) -> None:
    watcher = watching(runtime, share, WatchConfig(debounce=0.2, poll=0.3, grace=30.0))
    try:
        (share / "share-note.md").write_text("# Share\n\nThe ibisfeather check.\n")
        wait_until(lambda: "share-note.md" in sources(runtime, "ibisfeather"), "poll", BOUND)
        (share / "share-note.md").unlink()
        wait_until(lambda: not sources(runtime, "ibisfeather"), "poll delete", BOUND)
    finally:
        watcher.stop()


def test_a_failed_scan_is_reported_and_the_watch_goes_on(
    runtime: Runtime, share: Path, caplog: pytest.LogCaptureFixture
) -> None:
    watcher = FolderWatcher(runtime, [share], FAST)
    real, failures = watcher._scan, [OSError("the share went away mid-listing")]

    def flaky() -> Iterable[tuple[Path, tuple[int, int]]]:
        if failures:
            raise failures.pop()
        return real()

    watcher._scan = flaky  # type: ignore[method-assign]
    watcher.start()
    try:
        wait_until(lambda: runtime.store.manifest() is not None, "no ingest after it", BOUND)
        assert "scan failed: the share went away mid-listing" in caplog.text
    finally:
        watcher.stop()
