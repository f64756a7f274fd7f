"""Background ingest jobs: one worker (ingest writers are serialised anyway), results kept in
memory and written to HOME/jobs/ID.json so they outlive a restart."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from retriever.store.errors import WriterBusyError

WAIT_FOR_WRITER_SECONDS = 600.0
RETRY_SECONDS = 2.0


@dataclass(frozen=True)
class Job:
    job_id: str
    status: str  # queued, running, done, failed
    files: tuple[str, ...]
    created_at: float
    finished_at: float | None = None
    result: dict[str, Any] | None = None
    error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class JobRunner:
    def __init__(self, folder: Path) -> None:
        self._folder = folder
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="shifu-ingest")

    def submit(self, files: list[str], work: Callable[[], dict[str, Any]]) -> Job:
        job = Job(uuid.uuid4().hex, "queued", tuple(files), time.time())
        self._set(job)
        self._pool.submit(self._run, job.job_id, work)
        return job

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None and job_id.isalnum():
            path = self._folder / f"{job_id}.json"
            if path.is_file():
                return Job(**{**json.loads(path.read_text()), "files": ()})
        return job

    def _run(self, job_id: str, work: Callable[[], dict[str, Any]]) -> None:
        self._update(job_id, status="running")
        deadline = time.monotonic() + WAIT_FOR_WRITER_SECONDS
        while True:
            try:
                result = work()
            except WriterBusyError as exc:  # a CLI ingest holds the lock: wait our turn
                if time.monotonic() < deadline:
                    time.sleep(RETRY_SECONDS)
                    continue
                self._finish(job_id, error=str(exc))
            except Exception as exc:  # a job must end with a status, whatever went wrong
                self._finish(job_id, error=f"{type(exc).__name__}: {exc}")
            else:
                self._finish(job_id, result=result)
            return

    def _finish(
        self, job_id: str, result: dict[str, Any] | None = None, error: str | None = None
    ) -> None:
        job = self._update(job_id, status="failed" if error else "done", result=result,
                           error=error, finished_at=time.time())  # fmt: skip
        self._folder.mkdir(parents=True, exist_ok=True)
        (self._folder / f"{job_id}.json").write_text(json.dumps(asdict(job), ensure_ascii=False))

    def _update(self, job_id: str, **changes: Any) -> Job:
        with self._lock:
            job = replace(self._jobs[job_id], **changes)
            self._jobs[job_id] = job
            return job

    def _set(self, job: Job) -> None:
        with self._lock:
            self._jobs[job.job_id] = job

    def shutdown(self) -> None:
        self._pool.shutdown(wait=True)
