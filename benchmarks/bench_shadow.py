"""The shadow challenger's cost to the answer: the API under open-loop load by merchant id
(as `bench_api_open.py`: 2 workers, SQLite, a fixed rate whatever the answers do, latency
from each request's scheduled time) with and without a challenger rule set, in
alternating runs (off, on, on, off, ...) on fresh stores, at one rate.

Each run prints p50/p90/p99, the server's CPU time a request, and for runs with the
challenger how many decisions got a challenger's decision beside them once the server
stopped. At the end, the median p50 with and without, and their ratio.

    python benchmarks/bench_shadow.py --data data/sample --model models/scorecard.json \
        --challenger rules/v2 [--rate 100] [--seconds 30] [--pairs 2]
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import datetime as dt
import os
import shutil
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

import polars as pl
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_api import REAL_APP, _free_port, _start, fresh_store
from bench_api_open import HEADER, Load, _open_loop, cpu_seconds
from bench_features import machine


def one_run(
    args: argparse.Namespace, ids: list[str], challenger: Path | None
) -> tuple[Load, int, int]:
    """One server on a fresh store, warmed up, then `args.rate` for `args.seconds`: its
    load figures, the decisions stored and the challenger decisions stored."""
    work = Path(tempfile.mkdtemp(prefix="bench-shadow-"))
    database, env, secret = fresh_store(work, args.data, args.model)
    if challenger is not None:
        env = {**env, "UW_CHALLENGER_RULES": str(challenger.resolve())}
    port = _free_port()
    server = _start(REAL_APP, port, env)
    try:
        asyncio.run(_open_loop(port, secret, ids, args.as_of, 20, 5))  # warm up
        used = cpu_seconds(server.pid)
        load = asyncio.run(_open_loop(port, secret, ids, args.as_of, args.rate, args.seconds))
        load = dataclasses.replace(load, cpu_ms=(cpu_seconds(server.pid) - used) * 1000 / load.sent)
    finally:
        os.killpg(server.pid, signal.SIGTERM)  # the shadow stores what is queued on the way out
        server.wait()
    with database.connect() as connection:
        decisions = connection.execute(sa.text("SELECT count(*) FROM decisions")).scalar_one()
        shadows = connection.execute(sa.text("SELECT count(*) FROM shadow_decisions")).scalar_one()
    database.dispose()
    shutil.rmtree(work)
    return load, int(decisions), int(shadows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    root = Path(__file__).resolve().parents[1]
    parser.add_argument("--data", type=Path, default=root / "data" / "sample")
    parser.add_argument("--model", type=Path, default=root / "models" / "scorecard.json")
    parser.add_argument("--challenger", type=Path, required=True, help="challenger rule set")
    parser.add_argument("--as-of", type=dt.date.fromisoformat, default=dt.date(2026, 10, 1))
    parser.add_argument("--rate", type=float, default=100)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--pairs", type=int, default=2, help="off/on pairs, alternating")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    ids = pl.read_parquet(args.data / "merchants.parquet")["merchant_id"].to_list()
    print(f"{len(ids):,} merchants in {args.data}; {args.rate:g}/s for {args.seconds:g} s a run")
    print(f"\n| run | shadow |{HEADER[1:].splitlines()[0]} stored | with a challenger's |")
    print("|---|---" + HEADER.splitlines()[1] + "---:|---:|")
    p50: dict[bool, list[float]] = {False: [], True: []}
    order = [k % 4 in (1, 2) for k in range(2 * args.pairs)]  # off, on, on, off, ...
    for run, shadow in enumerate(order, 1):
        load, decisions, shadows = one_run(args, ids, args.challenger if shadow else None)
        p50[shadow].append(load.p50)
        shown = f"{shadows:,}" if shadow else "—"
        print(f"| {run} | {'on' if shadow else 'off'} {load.line()} {decisions:,} | {shown} |")
        time.sleep(2)
    off, on = statistics.median(p50[False]), statistics.median(p50[True])
    print(f"\nmedian p50: off {off:.1f} ms, on {on:.1f} ms: on/off {on / off:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
