"""The workbench's decision page: server time to render it for a stored decision.

The real app in this process (FastAPI's TestClient, no network: the time is the server's
work plus the in-process client's small share), a fresh SQLite store, `--decisions`
merchants of the sample decided through the API, one officer signed in; then every
decision's page fetched `--rounds` times in turn. Prints p50, p95 and max over all
fetches, and the same for the referral queue and a merchant's history.

    python benchmarks/bench_workbench.py --data data/sample --model models/scorecard.json
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

from fastapi.testclient import TestClient

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_features import machine

from api import migrate, store
from api.main import create_app
from api.settings import Settings


def _quantiles(times: list[float]) -> str:
    ordered = sorted(times)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return (
        f"p50 {statistics.median(ordered) * 1000:.1f} ms, p95 {p95 * 1000:.1f} ms, "
        f"max {ordered[-1] * 1000:.1f} ms ({len(ordered)} fetches)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    root = Path(__file__).resolve().parents[1]
    parser.add_argument("--data", type=Path, default=root / "data" / "sample")
    parser.add_argument("--model", type=Path, default=root / "models" / "scorecard.json")
    parser.add_argument("--decisions", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print(f"machine: {machine()}")
    work = Path(tempfile.mkdtemp(prefix="bench-workbench-"))
    url = f"sqlite:///{work / 'underwriting.db'}"
    database = store.connect(url)
    migrate.upgrade(database)
    _, secret = store.create_key(database, "officer", "benchmark")
    settings = Settings(
        database_url=url,
        data=args.data,
        model=args.model,
        models_dir=args.model.parent,
        rules=root / "rules" / "v1",
        rules_root=root / "rules",
    )
    with TestClient(create_app(settings)) as client:
        headers = {"Authorization": f"Bearer {secret}"}
        ids = []
        for i in range(1, args.decisions + 1):
            answer = client.post(
                "/v1/decisions",
                json={"merchant_id": f"M{i:08d}", "as_of": "2026-10-01"},
                headers=headers,
            )
            answer.raise_for_status()
            ids.append(answer.json()["id"])
        page = client.get("/workbench/sign-in").text
        csrf = re.search(r'name="csrf" value="([^"]+)"', page)
        assert csrf is not None
        client.post("/workbench/sign-in", data={"key": secret, "csrf": csrf.group(1)})
        client.get(f"/workbench/decisions/{ids[0]}").raise_for_status()  # warm up
        pages: list[float] = []
        for _ in range(args.rounds):
            for decision_id in ids:
                started = time.perf_counter()
                client.get(f"/workbench/decisions/{decision_id}").raise_for_status()
                pages.append(time.perf_counter() - started)
        queue, history = [], []
        for i in range(50):
            started = time.perf_counter()
            client.get("/workbench/queue").raise_for_status()
            queue.append(time.perf_counter() - started)
            started = time.perf_counter()
            client.get(f"/workbench/merchants/M{i + 1:08d}").raise_for_status()
            history.append(time.perf_counter() - started)
    print(f"{args.decisions} stored decisions, {args.rounds} rounds")
    print(f"decision page: {_quantiles(pages)}")
    print(f"referral queue: {_quantiles(queue)}")
    print(f"merchant history: {_quantiles(history)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
