"""Rate limits under load: one greedy key floods the served API while a polite key asks at a
steady pace; prints what each sent and got.

    python -m bench.rate_limits [--seconds 10] [--greedy-clients 8] [--polite-rate 5]

The sample corpus is indexed with the fake encoder of tests/fakes.py (limits are about HTTP,
not the model), the app is served by uvicorn on loopback with the default limits, and BM25
questions are sent. Expected: the greedy key gets 429s with Retry-After beyond its budget,
the polite key (within its budget) only 200s, and nobody a 5xx.
"""

from __future__ import annotations

import argparse
import collections
import shutil
import tempfile
import threading
import time
from pathlib import Path

import httpx

from ingest.pipeline import ingest
from retriever.store.index_store import IndexStore
from service.app import create_app
from service.auth import add_key
from service.settings import Settings
from tests.fakes import FakeEncoder
from tests.serving import served

REPO = Path(__file__).resolve().parents[1]
ASK = {"question": "lockout padlock tag", "k": 5, "mode": "bm25"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--greedy-clients", type=int, default=8)
    parser.add_argument("--polite-rate", type=float, default=5.0, help="requests a second")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        corpus = shutil.copytree(REPO / "corpus", Path(tmp) / "corpus")
        encoder = FakeEncoder()
        ingest([corpus], IndexStore(home), encoder)
        greedy = add_key(home / "keys.yaml", "greedy", "reader", [])
        polite = add_key(home / "keys.yaml", "polite", "reader", [])
        settings = Settings(home=home)  # the default budgets
        print(f"query budget: {settings.rate_query}/s, bursts of {settings.burst_query}")
        app = create_app(settings, encoder_factory=lambda _: encoder)
        with served(app) as url:
            tallies = _run(url, greedy, polite, args)
            metrics = httpx.get(f"{url}/metrics").text
    for name, tally in tallies.items():
        sent = sum(tally.values())
        print(f"{name}: {sent} requests in {args.seconds:.0f} s ({sent / args.seconds:.1f}/s): "
              + ", ".join(f"{status}: {n}" for status, n in sorted(tally.items())))  # fmt: skip
    errors = sum(n for tally in tallies.values() for s, n in tally.items() if s >= 500)
    counted = [line for line in metrics.splitlines() if line.startswith("shifu_rate_limited_total")]
    print(f"5xx: {errors}; metrics: {'; '.join(counted) or 'no 429 counted'}")


def _run(url: str, greedy: str, polite: str, args: argparse.Namespace
         ) -> dict[str, collections.Counter[int]]:  # fmt: skip
    tallies = {"greedy": collections.Counter[int](), "polite": collections.Counter[int]()}
    lock, stop = threading.Lock(), time.monotonic() + args.seconds

    def client(name: str, key: str, pause: float) -> None:
        with httpx.Client(headers={"Authorization": f"Bearer {key}"}, timeout=30) as http:
            while time.monotonic() < stop:
                status = http.post(f"{url}/v1/query", json=ASK).status_code
                with lock:
                    tallies[name][status] += 1
                time.sleep(pause)

    threads = [threading.Thread(target=client, args=("greedy", greedy, 0.0))
               for _ in range(args.greedy_clients)]  # fmt: skip
    threads.append(threading.Thread(target=client, args=("polite", polite, 1 / args.polite_rate)))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return tallies


if __name__ == "__main__":
    main()
