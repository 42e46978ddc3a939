"""Where one by-id decision request's time goes, step by step, in-process with the real
pieces the API runs (`api.service.Service` on the data folder, the SQLite store), one
random merchant at a time: the lookup of its rows, validation and features, the decision,
the stored input's JSON, its hash and compression, and the durable insert. The HTTP
layer's share is the rest of what a client measures (`bench_api_open.py`'s lowest rate).

    python benchmarks/bench_api_steps.py --data data/sample --model models/scorecard.json
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import statistics
import sys
import tempfile
import time
import zlib
from itertools import pairwise
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_features import machine

from api import migrate, store
from api.service import ById, Service, _by_id
from api.settings import Settings
from underwriting.applications import Prepared
from underwriting.decision import Decision

ROOT = Path(__file__).resolve().parents[1]
STEPS = ("lookup", "prepare", "decide", "input JSON", "hash and zip", "store", "total")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=ROOT / "data" / "sample")
    parser.add_argument("--model", type=Path, default=ROOT / "models" / "scorecard.json")
    parser.add_argument("--as-of", type=dt.date.fromisoformat, default=dt.date(2026, 10, 1))
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--in-memory-rows", type=int, default=Settings.lookup_rows_in_memory)
    args = parser.parse_args()
    print(f"machine: {machine()}")
    work = Path(tempfile.mkdtemp(prefix="bench-api-steps-"))
    url = f"sqlite:///{work / 'underwriting.db'}"
    database = store.connect(url)
    migrate.upgrade(database)
    settings = Settings(
        database_url=url,
        model=args.model,
        models_dir=args.model.parent,
        rules=ROOT / "rules" / "v1",
        rules_root=ROOT / "rules",
        data=args.data,
        lookup_rows_in_memory=args.in_memory_rows,
    )
    service = Service.load(settings)
    held = service.merchants.cashflow.held is not None
    print(f"daily rows {'held in memory' if held else 'scanned at each lookup'}")
    ids = service.merchants.profiles.get_column("merchant_id").to_list()
    rng = random.Random(1)
    times: dict[str, list[float]] = {step: [] for step in STEPS}
    for n in range(args.requests + 20):
        merchant = rng.choice(ids)
        started = time.perf_counter()
        found = service.lookup_many([merchant])[merchant]
        looked_up = time.perf_counter()
        assert not isinstance(found, Exception)
        given, application = _by_id(ById(merchant, args.as_of), found)
        assert not isinstance(application, Exception)
        (prepared,) = service.engine.prepare_many([application])
        assert isinstance(prepared, Prepared)
        ready = time.perf_counter()
        row = service.engine.decide_frame(prepared.features).row(0, named=True)
        decision = Decision.from_row(row)
        decided = time.perf_counter()
        raw = store.canonical_json(given)
        encoded = time.perf_counter()
        store.sha256(raw), zlib.compress(raw, 6)
        hashed = time.perf_counter()
        store.save_decision(
            database, decision, [], given, source="bench", caller="bench",
            idempotency_key=None, request_sha256="bench",
        )  # fmt: skip
        stored = time.perf_counter()
        if n >= 20:  # warmed up
            marks = (started, looked_up, ready, decided, encoded, hashed, stored)
            for step, (a, b) in zip(STEPS, pairwise(marks), strict=False):
                times[step].append((b - a) * 1000)
            times["total"].append((stored - started) * 1000)
    print(f"{args.requests} requests, one at a time, random merchants of {args.data}")
    print("| step | median ms | p90 ms |\n|---|---:|---:|")
    for step, values in times.items():
        values.sort()
        print(
            f"| {step} | {statistics.median(values):.2f} | {values[int(len(values) * 0.9)]:.2f} |"
        )
    print(f"stored input: {len(raw):,} bytes of JSON ({len(zlib.compress(raw, 6)):,} compressed)")
    print("(the store step writes the input's JSON, hash and compression again, as it stores)")
    database.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
