"""Load: N concurrent query clients against the served API while an ingest runs beside them.

    python bench/load.py [--clients 8] [--seconds 30] [--model NAME|fake] [--home DIR]
                         [--port N] [--ingest-docs 200] [--cli-docs 50] [--mode hybrid]

Ingests the sample corpus into HOME (a fresh temporary folder unless --home is given), adds a
reader and an editor key, starts the server on 127.0.0.1 (`shifu serve`; with `--model fake`
a tiny server over the hashed fake encoder of tests/fakes.py, for a quick smoke run) and waits
for /v1/health. Then, for --seconds, N clients (one thread and one keep-alive connection
each) post /v1/query with the questions of corpus/eval/queries.jsonl round-robin, mostly in
hybrid mode, while synthetic SOPs (new variants of the sample ones) are uploaded through
POST /v1/documents in batches, small ones ingested at once and larger ones as background jobs
(the server's background threshold is set low, --background-bytes, so both paths run), and one
`shifu ingest` over a folder of further variants competes with the uploads for the writer
lock. A 409 "another ingest is writing" from the API, or the same message from the CLI, is
expected contention: it is retried and counted apart from errors. Any other non-200 answer or
exception is an error; the target is 0, and the exit status is 1 otherwise.

Every HTTP call has a timeout, the ingest may run --ingest-tail seconds past the clients, and
the whole run is capped at seconds + ingest tail + 120 s; the server is always stopped.
"""

from __future__ import annotations

import argparse
import importlib
import itertools
import json
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import yaml

from retriever.models.encoder import DEFAULT_MODEL

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO / "corpus"
QUERIES = CORPUS / "eval" / "queries.jsonl"
SAMPLE_SOPS = sorted([*(CORPUS / "sop").glob("*.md"), *(CORPUS / "sop").glob("*.txt")])
# each query's mode is drawn from this: 5/8 hybrid, 1/8 each of dense, bm25 and hybrid-rrf
MODE_MIX = ("hybrid", "dense", "hybrid", "bm25", "hybrid", "hybrid-rrf", "hybrid", "hybrid")
CONTENTION = "another ingest is writing"
KEEP_MESSAGES = 5
SLACK_SECONDS = 120.0
QUERY_SECONDS = 60.0
QUERY_TIMEOUT = httpx.Timeout(QUERY_SECONDS, connect=5.0)
UPLOAD_TIMEOUT = httpx.Timeout(180.0, connect=5.0)
SHORT_TIMEOUT = httpx.Timeout(10.0, connect=5.0)
RETRY_SECONDS = 1.0
POLL_SECONDS = 0.5

FAKE_SERVER = """
import sys
import uvicorn
from service.app import create_app
from service.settings import Settings
from tests.fakes import FakeEncoder
encoder = FakeEncoder()
app = create_app(Settings(home=sys.argv[1]), encoder_factory=lambda _: encoder)
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), log_level="warning")
"""
FAKE_CLI = """
import sys
import service.cli as cli
import service.cli_common as cli_common
from service.runtime import Runtime
from tests.fakes import FakeEncoder
cli_common.make_runtime = lambda settings: Runtime(settings, lambda _: FakeEncoder())
cli.app(sys.argv[1:], prog_name="shifu")
"""


class LoadError(RuntimeError):
    """The run cannot go on (setup failed, the server did not start); the reason is printed."""


@dataclass(frozen=True)
class Target:
    base_url: str
    home: Path
    fake: bool
    env: dict[str, str]
    reader_key: str = ""
    editor_key: str = ""


@dataclass(frozen=True)
class SynthDoc:
    name: str
    data: bytes


@dataclass
class Messages:
    """A count and the first few messages, shared by threads."""

    count: int = 0
    first: list[str] = field(default_factory=list)

    def add(self, message: str) -> None:
        self.count += 1
        if len(self.first) < KEEP_MESSAGES:
            self.first.append(" ".join(message.split())[:300])


class QueryTally:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.latencies: dict[str, list[float]] = {mode: [] for mode in dict.fromkeys(MODE_MIX)}
        self.errors_by_mode: dict[str, int] = dict.fromkeys(MODE_MIX, 0)
        self.errors = Messages()
        self.empty = 0

    def ok(self, mode: str, ms: float, empty: bool) -> None:
        with self.lock:
            self.latencies[mode].append(ms)
            self.empty += empty

    def error(self, mode: str, message: str) -> None:
        with self.lock:
            self.errors_by_mode[mode] += 1
            self.errors.add(f"{mode}: {message}")


class IngestTally:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.uploaded = 0  # files the API reports added or updated
        self.unchanged = 0
        self.requests = 0
        self.sync = 0
        self.jobs = 0
        self.api_retries = 0
        self.cli_added = 0
        self.cli_attempts = 0
        self.cli_retries = 0
        self.generations: set[int] = set()
        self.errors = Messages()
        self.api_seconds: float | None = None
        self.cli_seconds: float | None = None

    def files(self, body: dict[str, Any], where: str) -> None:
        with self.lock:
            for row in body.get("files", []):
                status = row.get("status")
                if status in ("added", "updated"):
                    self.uploaded += 1
                elif status == "unchanged":
                    self.unchanged += 1
                else:
                    self.errors.add(f"{where}: {row.get('file')} {status}: {row.get('reason')}")
            if body.get("generation") is not None:
                self.generations.add(int(body["generation"]))

    def error(self, message: str) -> None:
        with self.lock:
            self.errors.add(message)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--home", type=Path, default=None, help="default: a fresh temp folder")
    parser.add_argument("--model", default=DEFAULT_MODEL, help="a model name, or 'fake'")
    parser.add_argument("--port", type=int, default=None, help="default: a free port")
    parser.add_argument("--ingest-docs", type=int, default=200, help="uploaded via the API")
    parser.add_argument("--cli-docs", type=int, default=50, help="ingested by `shifu ingest`")
    parser.add_argument("--batch", type=int, default=10, help="files per upload request")
    parser.add_argument("--mode", choices=sorted(set(MODE_MIX)), default=None,
                        help="every query in this mode (default: the mix)")  # fmt: skip
    parser.add_argument("--background-bytes", type=int, default=16 * 1024,
                        help="server's SHIFU_BACKGROUND_UPLOAD_BYTES")  # fmt: skip
    parser.add_argument("--ingest-tail", type=float, default=300.0,
                        help="seconds the ingest may run after the clients stop")  # fmt: skip
    args = parser.parse_args()
    if args.clients < 1 or args.seconds <= 0 or args.batch < 1:
        parser.error("--clients, --seconds and --batch must be positive")
    cap = time.monotonic() + args.seconds + args.ingest_tail + SLACK_SECONDS
    with _home(args.home) as home:
        try:
            failed = _run(args, home, cap)
        except LoadError as exc:
            print(f"error: {exc}", file=sys.stderr)
            sys.exit(2)
    sys.exit(1 if failed else 0)


@contextmanager
def _home(given: Path | None) -> Iterator[Path]:
    if given is not None:
        given.mkdir(parents=True, exist_ok=True)
        yield given.resolve()
        return
    with tempfile.TemporaryDirectory(prefix="shifu-load-") as home:
        yield Path(home)


def _run(args: argparse.Namespace, home: Path, cap: float) -> bool:
    fake = args.model == "fake"
    run = f"{time.strftime('%H%M%S')}{random.randrange(16**4):04x}"
    env = {**os.environ, "SHIFU_BACKGROUND_UPLOAD_BYTES": str(args.background_bytes),
           # throughput is measured with one key for every client: per-key limits off
           "SHIFU_RATE_QUERY": "0", "SHIFU_RATE_UPLOAD": "0"}  # fmt: skip
    if not fake:
        env["SHIFU_MODEL"] = args.model
    port = args.port or _free_port()
    target = Target(f"http://127.0.0.1:{port}", home, fake, env)
    print(f"home {home}; model {args.model}; run {run}", flush=True)
    _ingest_corpus(target, cap)
    target = _with_keys(target, run, cap)
    uploads = _synthetic(run, "A", args.ingest_docs)
    cli_folder = home / "load-docs" / run
    cli_folder.mkdir(parents=True)
    for doc in _synthetic(run, "C", args.cli_docs):
        (cli_folder / doc.name).write_bytes(doc.data)
    log_path = home / f"load-server-{run}.log"
    with log_path.open("w") as log, _server(target, port, log) as server:
        _wait_healthy(target, server, log_path, cap)
        return _measure(args, target, uploads, cli_folder, log_path, cap)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _left(cap: float) -> float:
    left = cap - time.monotonic()
    if left <= 0:
        raise LoadError("the wall-time cap was reached")
    return left


def _shifu() -> list[str]:
    found = shutil.which("shifu", path=str(Path(sys.executable).parent)) or shutil.which("shifu")
    if found is None:
        raise LoadError("the `shifu` console script is not installed (run `make install`)")
    return [found]


def _cli(target: Target) -> list[str]:
    """`shifu`, or for the fake model the same CLI with the fake encoder behind its seam."""
    return [sys.executable, "-c", FAKE_CLI] if target.fake else _shifu()


def _ingest_corpus(target: Target, cap: float) -> None:
    began = time.perf_counter()
    if target.fake:
        from ingest.pipeline import ingest
        from retriever.store.index_store import IndexStore

        summary = ingest([CORPUS], IndexStore(target.home), _fake_encoder())
        failed, added = summary.failed, summary.added
    else:
        done = subprocess.run(
            [*_shifu(), "ingest", str(CORPUS), "--home", str(target.home), "--json"],
            capture_output=True, text=True, env=target.env, cwd=REPO, timeout=_left(cap),
        )  # fmt: skip
        if done.returncode != 0:
            raise LoadError(f"`shifu ingest corpus` exited {done.returncode}: "
                            f"{_tail(done.stderr)}")  # fmt: skip
        data = json.loads(done.stdout)
        failed, added = data["failed"], data["added"]
    if failed:
        raise LoadError(f"{failed} sample documents failed to ingest")
    print(f"corpus ingested ({added} added) in {time.perf_counter() - began:.1f} s", flush=True)


def _fake_encoder() -> Any:
    """tests/ is not installed; import the fake encoder from the repository."""
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    return importlib.import_module("tests.fakes").FakeEncoder()


def _with_keys(target: Target, run: str, cap: float) -> Target:
    keys: dict[str, str] = {}
    for role in ("reader", "editor"):
        key_id = f"load-{role}-{run}"
        if target.fake:
            from service.auth import add_key
            from service.settings import Settings

            keys[role] = add_key(Settings(home=target.home).key_path, key_id, role, [])
            continue
        done = subprocess.run(
            [*_shifu(), "keys", "add", key_id, "--role", role, "--home", str(target.home)],
            capture_output=True, text=True, env=target.env, cwd=REPO, timeout=_left(cap),
        )  # fmt: skip
        if done.returncode != 0 or not done.stdout.strip():
            raise LoadError(f"`shifu keys add` exited {done.returncode}: {_tail(done.stderr)}")
        keys[role] = done.stdout.strip().splitlines()[-1]
    return Target(target.base_url, target.home, target.fake, target.env,
                  keys["reader"], keys["editor"])  # fmt: skip


def _synthetic(run: str, tag: str, count: int) -> list[SynthDoc]:
    """Variants of the sample SOPs: new doc_id, title, line and parameters, and a unique note,
    so each is a new document (never a second claim on a stored doc_id and revision)."""
    docs = []
    for n in range(count):
        sample = SAMPLE_SOPS[n % len(SAMPLE_SOPS)]
        meta, body = _front_matter(sample.read_text(encoding="utf-8"))
        doc_id = f"LOAD-{run}-{tag}{n:04d}"
        original = str(meta.get("doc_id", ""))
        meta.update(doc_id=doc_id, title=f"{meta.get('title', sample.stem)} (variant {n})",
                    revision="A", line=f"L{n % 9 + 1}")  # fmt: skip
        body = _shifted(body, random.Random(f"{run}{tag}{n}"))
        if original:
            body = body.replace(original, doc_id)
        body += (f"\n\nVariant note {n}: applies to cell C{n:04d} on line L{n % 9 + 1}; "
                 f"batch code LD{run}{tag}{n:04d}.\n")  # fmt: skip
        front = yaml.safe_dump(meta, allow_unicode=True, sort_keys=False)
        name = f"load-{run}-{tag}{n:04d}-{sample.stem}{sample.suffix}"
        docs.append(SynthDoc(name, f"---\n{front}---\n{body}".encode()))
    return docs


def _shifted(text: str, rng: random.Random) -> str:
    """Parameters (numbers of two or more digits) nudged; step numbers stay as they are."""
    return re.sub(r"\b\d{2,}\b", lambda m: str(int(m.group()) + rng.randint(1, 9)), text)


def _front_matter(text: str) -> tuple[dict[str, Any], str]:
    if text.startswith("---\n"):
        end = text.find("\n---\n", 4)
        if end > 0:
            meta = yaml.safe_load(text[4:end]) or {}
            return {str(k): str(v) for k, v in meta.items()}, text[end + 5 :]
    return {"doc_type": "sop"}, text


@contextmanager
def _server(target: Target, port: int, log: Any) -> Iterator[subprocess.Popen[bytes]]:
    if target.fake:
        command = [sys.executable, "-c", FAKE_SERVER, str(target.home), str(port)]
    else:
        command = [*_shifu(), "serve", "--home", str(target.home), "--host", "127.0.0.1",
                   "--port", str(port)]  # fmt: skip
    server = subprocess.Popen(command, cwd=REPO, env=target.env, stdout=log, stderr=log)
    try:
        yield server
    finally:
        _stop(server)


def _stop(process: subprocess.Popen[Any]) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=15)


def _wait_healthy(
    target: Target, server: subprocess.Popen[bytes], log_path: Path, cap: float
) -> None:
    began = time.monotonic()
    with httpx.Client(base_url=target.base_url, timeout=SHORT_TIMEOUT) as http:
        while True:
            if server.poll() is not None:
                raise LoadError(f"the server exited with status {server.returncode}:\n"
                                f"{_tail(log_path.read_text(errors='replace'), 20)}")  # fmt: skip
            with suppress(httpx.HTTPError):
                if http.get("/v1/health").status_code == 200:
                    break
            if time.monotonic() - began > min(_left(cap), SLACK_SECONDS):
                raise LoadError(f"the server did not answer /v1/health within "
                                f"{time.monotonic() - began:.0f} s:\n"
                                f"{_tail(log_path.read_text(errors='replace'), 20)}")  # fmt: skip
            time.sleep(POLL_SECONDS)
    print(f"server up on {target.base_url} in {time.monotonic() - began:.1f} s", flush=True)


def _measure(
    args: argparse.Namespace, target: Target, uploads: list[SynthDoc], cli_folder: Path,
    log_path: Path, cap: float,
) -> bool:  # fmt: skip
    questions = [json.loads(line)["text"] for line in QUERIES.read_text("utf-8").splitlines()
                 if line.strip()]  # fmt: skip
    reader = httpx.Client(base_url=target.base_url, timeout=SHORT_TIMEOUT,
                          headers=_bearer(target.reader_key))  # fmt: skip
    with reader:
        for mode in dict.fromkeys(MODE_MIX):  # warm lazy loads outside the measurement
            warm = reader.post("/v1/query", json={"question": questions[0], "mode": mode},
                               timeout=QUERY_TIMEOUT)  # fmt: skip
            if warm.status_code != 200:
                raise LoadError(f"warm-up {mode} query: HTTP {warm.status_code} {warm.text}")
        before, docs_before = _health(reader)
        tally, ingest = QueryTally(), IngestTally()
        began = time.monotonic()
        end = began + args.seconds
        ingest_end = min(end + args.ingest_tail, cap - 10)
        cli_process: list[subprocess.Popen[str]] = []
        mix = (args.mode,) if args.mode else MODE_MIX
        clients = [
            threading.Thread(target=_client, daemon=True,
                             args=(i, args.clients, target, questions, end, tally, mix))
            for i in range(args.clients)
        ]  # fmt: skip
        feeders = [
            threading.Thread(target=_guarded, daemon=True, args=(
                ingest, _upload_all, target, uploads, args.batch, began, ingest_end, ingest)),
            threading.Thread(target=_guarded, daemon=True, args=(
                ingest, _cli_ingest, target, cli_folder, began + args.seconds / 4, began,
                ingest_end, ingest, cli_process)),
        ]  # fmt: skip
        for thread in clients + feeders:
            thread.start()
        for thread in clients:
            thread.join(timeout=max(0.0, end + QUERY_SECONDS - time.monotonic()))
        elapsed = time.monotonic() - began
        for thread in feeders:
            thread.join(timeout=max(0.0, ingest_end - time.monotonic()))
        if any(t.is_alive() for t in feeders):
            ingest.error(f"the ingest did not finish within {args.ingest_tail:.0f} s "
                         "after the clients stopped")  # fmt: skip
            for process in cli_process:
                _stop(process)
        stuck = sum(t.is_alive() for t in clients)
        if stuck:
            tally.error("hybrid", f"{stuck} clients still waiting after the query timeout")
        try:
            after, docs_after = _health(reader)
        except (httpx.HTTPError, KeyError, ValueError) as exc:
            ingest.error(f"health after the run: {type(exc).__name__}: {exc}")
            after, docs_after = {}, -1
    expected = ingest.uploaded + ingest.cli_added
    if docs_after >= 0 and docs_after - docs_before != expected:
        ingest.error(f"documents listed went {docs_before} -> {docs_after}, "
                     f"but {expected} were added")  # fmt: skip
    _report(args, target, tally, ingest, elapsed, (before, after), (docs_before, docs_after))
    if tally.errors.count and (lines := _server_errors(log_path)):
        print("server errors:\n  " + "\n  ".join(lines))
    return bool(tally.errors.count or ingest.errors.count)


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _health(http: httpx.Client) -> tuple[dict[str, Any], int]:
    """/v1/health and the number of current documents listed."""
    health = http.get("/v1/health")
    health.raise_for_status()
    listed = http.get("/v1/documents", params={"per_page": 1})
    listed.raise_for_status()
    return health.json(), int(listed.json()["total"])


def _guarded(ingest: IngestTally, work: Callable[..., None], *args: Any) -> None:
    """An ingest feeder that fails counts as an error instead of dying silently."""
    try:
        work(*args)
    except Exception as exc:
        ingest.error(f"{work.__name__}: {type(exc).__name__}: {exc}")


def _client(
    index: int, clients: int, target: Target, questions: list[str], end: float,
    tally: QueryTally, mix: tuple[str, ...] = MODE_MIX,
) -> None:  # fmt: skip
    """Questions round-robin from a per-client offset; modes drawn independently of them (a
    fixed mode cycle beside the question cycle would tie some questions to one mode)."""
    offset = index * len(questions) // clients
    modes = random.Random(index)
    with httpx.Client(base_url=target.base_url, timeout=QUERY_TIMEOUT,
                      headers=_bearer(target.reader_key)) as http:  # fmt: skip
        for n in itertools.count():
            if time.monotonic() >= end:
                return
            mode = modes.choice(mix)
            body = {"question": questions[(offset + n) % len(questions)], "k": 5, "mode": mode}
            began = time.perf_counter()
            try:
                response = http.post("/v1/query", json=body)
                ms = (time.perf_counter() - began) * 1000
                if response.status_code != 200:
                    tally.error(mode, f"HTTP {response.status_code} {response.text}")
                    continue
                passages = response.json()["passages"]
                tally.ok(mode, ms, empty=not passages)
            except Exception as exc:  # a client must count every failure, then go on
                tally.error(mode, f"{type(exc).__name__}: {exc}")


def _upload_all(
    target: Target, docs: list[SynthDoc], batch: int, began: float, end: float,
    ingest: IngestTally,
) -> None:  # fmt: skip
    """Batches alternate between `batch` files and a third of that, so both the at-once and
    the background-job paths run."""
    sizes = itertools.cycle((batch, max(1, batch // 3)))
    position = 0
    with httpx.Client(base_url=target.base_url, timeout=UPLOAD_TIMEOUT,
                      headers=_bearer(target.editor_key)) as http:  # fmt: skip
        while position < len(docs):
            chunk = docs[position : position + next(sizes)]
            if not _upload(http, chunk, end, ingest):
                ingest.error(f"{len(docs) - position} documents were not uploaded")
                return
            position += len(chunk)
    ingest.api_seconds = time.monotonic() - began


def _upload(http: httpx.Client, docs: list[SynthDoc], end: float, ingest: IngestTally) -> bool:
    files = [("files", (d.name, d.data, "text/markdown")) for d in docs]
    while time.monotonic() < end:
        with ingest.lock:
            ingest.requests += 1
        response = http.post("/v1/documents", files=files)
        if response.status_code == 409 and CONTENTION in response.text:
            with ingest.lock:
                ingest.api_retries += 1
            time.sleep(RETRY_SECONDS)
            continue
        if response.status_code == 200:
            with ingest.lock:
                ingest.sync += 1
            ingest.files(response.json(), "upload")
            return True
        if response.status_code == 202:
            with ingest.lock:
                ingest.jobs += 1
            return _wait_job(http, response.json()["job"]["job_id"], end, ingest)
        ingest.error(f"upload: HTTP {response.status_code} {response.text}")
        return True  # counted; go on with the next batch
    return False


def _wait_job(http: httpx.Client, job_id: str, end: float, ingest: IngestTally) -> bool:
    while time.monotonic() < end:
        response = http.get(f"/v1/jobs/{job_id}", timeout=SHORT_TIMEOUT)
        if response.status_code != 200:
            ingest.error(f"job {job_id}: HTTP {response.status_code} {response.text}")
            return True
        job = response.json()
        if job["status"] == "done":
            ingest.files(job["result"] or {}, f"job {job_id[:8]}")
            return True
        if job["status"] == "failed":
            ingest.error(f"job {job_id[:8]} failed: {job['error']}")
            return True
        time.sleep(POLL_SECONDS)
    ingest.error(f"job {job_id[:8]} still running at the ingest deadline")
    return False


def _cli_ingest(
    target: Target, folder: Path, start_at: float, began: float, end: float,
    ingest: IngestTally, running: list[subprocess.Popen[str]],
) -> None:  # fmt: skip
    """One `shifu ingest FOLDER`, started a quarter into the run; retried while the writer
    lock is taken."""
    time.sleep(max(0.0, start_at - time.monotonic()))
    command = [*_cli(target), "ingest", str(folder), "--home", str(target.home), "--json"]
    while time.monotonic() < end:
        with ingest.lock:
            ingest.cli_attempts += 1
        process = subprocess.Popen(command, cwd=REPO, env=target.env, text=True,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
        running[:] = [process]
        try:
            out, err = process.communicate(timeout=max(1.0, end - time.monotonic()))
        except subprocess.TimeoutExpired:
            _stop(process)
            ingest.error("`shifu ingest` still running at the ingest deadline")
            return
        if process.returncode == 2 and CONTENTION in err:
            with ingest.lock:
                ingest.cli_retries += 1
            time.sleep(RETRY_SECONDS)
            continue
        try:
            summary = json.loads(out)
        except json.JSONDecodeError:
            ingest.error(f"`shifu ingest` exited {process.returncode}: {_tail(err)}")
            return
        with ingest.lock:
            ingest.cli_added += summary["added"] + summary["updated"]
            if summary.get("generation") is not None:
                ingest.generations.add(int(summary["generation"]))
            for failure in summary["failures"]:
                ingest.errors.add(f"cli: {failure['path']}: {failure['reason']}")
            ingest.cli_seconds = time.monotonic() - began
        return
    ingest.error("`shifu ingest` never got the writer lock before the ingest deadline")


def _report(
    args: argparse.Namespace, target: Target, tally: QueryTally, ingest: IngestTally,
    elapsed: float, health: tuple[dict[str, Any], dict[str, Any]], docs: tuple[int, int],
) -> None:  # fmt: skip
    everything = [ms for values in tally.latencies.values() for ms in values]
    print()
    print(f"model             {health[1].get('model')}  (server {target.base_url})")
    print(f"clients           {args.clients}")
    print(f"seconds           {elapsed:.1f}")
    print(f"queries           {len(everything)} answered, {tally.errors.count} errors, "
          f"{tally.empty} with no passages")  # fmt: skip
    print(f"throughput        {len(everything) / elapsed:.1f} q/s")
    print(f"{'mode':<18}{'queries':>8}{'errors':>8}{'p50 ms':>9}{'p99 ms':>9}")
    rows = [("all", everything, tally.errors.count)]
    rows += [(m, tally.latencies[m], tally.errors_by_mode[m]) for m in tally.latencies]
    for mode, values, errors in rows:
        p50, p99 = (_p(values, 50), _p(values, 99)) if values else (float("nan"),) * 2
        print(f"{mode:<18}{len(values):>8}{errors:>8}{p50:9.1f}{p99:9.1f}")
    for message in tally.errors.first:
        print(f"  error: {message}")
    api_time = f"{ingest.api_seconds:.1f} s" if ingest.api_seconds is not None else "unfinished"
    cli_time = f"{ingest.cli_seconds:.1f} s" if ingest.cli_seconds is not None else "unfinished"
    print(f"ingest (API)      {ingest.uploaded}/{args.ingest_docs} documents uploaded in "
          f"{ingest.sync} at-once requests and {ingest.jobs} jobs "
          f"(threshold {args.background_bytes} B), {api_time}")  # fmt: skip
    print(f"ingest (CLI)      {ingest.cli_added}/{args.cli_docs} documents, "
          f"{ingest.cli_attempts} runs, {cli_time}")  # fmt: skip
    print(f"contention        {ingest.api_retries} API 409 retries, "
          f"{ingest.cli_retries} CLI retries (writer busy; not errors)")  # fmt: skip
    print(f"generations       {health[0].get('generation')} -> {health[1].get('generation')} "
          f"({len(ingest.generations)} commits seen); chunks {health[0].get('chunks')} -> "
          f"{health[1].get('chunks')}; documents {docs[0]} -> {docs[1]}")  # fmt: skip
    print(f"ingest errors     {ingest.errors.count}")
    for message in ingest.errors.first:
        print(f"  error: {message}")
    total = tally.errors.count + ingest.errors.count
    print(f"verdict           {'0 errors' if not total else f'{total} errors (target 0)'}")


def _p(values: list[float], percentile: int) -> float:
    return float(np.percentile(values, percentile))


def _tail(text: str, lines: int = 5) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def _server_errors(log_path: Path) -> list[str]:
    lines = log_path.read_text(errors="replace").splitlines()
    return [line[:300] for line in lines if '"level": "error"' in line][:KEEP_MESSAGES]


if __name__ == "__main__":
    main()
